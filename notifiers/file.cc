// file: appends one JSON object per notification to `path` (relative to the
// config file's folder) and fsyncs: the webhook v4 body plus `receiver` and
// `sentAt`. Used by the demo and by tests.
#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/core/problem.h"
#include "agent/core/time_format.h"
#include "agent/core/yaml_util.h"
#include "notifiers/registry.h"

namespace linkwatch::notifiers {
namespace {

class FileNotifier final : public Notifier {
 public:
  FileNotifier(std::filesystem::path path, const Clock& clock)
      : path_(std::move(path)), clock_(clock) {}

  const std::string& integration() const override {
    static const std::string kName = "file";
    return kName;
  }

  SendResult Send(const Notification& n) override {
    nlohmann::json body = WebhookBody(n);
    body["receiver"] = n.receiver;
    body["sentAt"] = FormatDateTime(clock_.Now());
    const std::string line = body.dump() + "\n";

    std::error_code ec;
    if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), ec);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Failure("opening");
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t w = ::write(fd, line.data() + done, line.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        SendResult r = Failure("writing");
        ::close(fd);
        return r;
      }
      done += static_cast<size_t>(w);
    }
    if (::fsync(fd) != 0) {
      SendResult r = Failure("syncing");
      ::close(fd);
      return r;
    }
    if (::close(fd) != 0) return Failure("closing");
    return SendResult::Ok();
  }

 private:
  SendResult Failure(const char* doing) const {
    return SendResult::Retry(
        "other", std::string(doing) + " " + path_.string() + ": " + std::strerror(errno));
  }

  std::filesystem::path path_;
  const Clock& clock_;
};

}  // namespace

std::unique_ptr<Notifier> MakeFileNotifier(const YAML::Node& spec, const ReceiverContext& ctx) {
  Problems& p = ctx.problems;
  const std::string what = ctx.What("file");
  if (!spec.IsMap()) {
    p.Add(spec, what + " must be a mapping with path");
    return nullptr;
  }
  const size_t before = p.list().size();
  ctx.CheckKeys(spec, {"path"});
  std::filesystem::path path;
  if (!spec["path"]) {
    p.Add(spec, what + ": path is required");
  } else if (auto s = GetString(spec["path"], p, what + " path")) {
    if (s->empty()) {
      p.Add(spec["path"], what + ": path must not be empty");
    } else {
      path = *s;
      if (path.is_relative() && !ctx.base_dir.empty()) path = ctx.base_dir / path;
    }
  }
  if (p.list().size() != before) return nullptr;
  return std::make_unique<FileNotifier>(std::move(path), ctx.clock);
}

}  // namespace linkwatch::notifiers
