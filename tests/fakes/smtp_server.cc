#include "tests/fakes/smtp_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

extern char** environ;

namespace linkwatch::fakes {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

// Runs argv with stdin and stdout on pipes (returned through the pointers)
// and stderr into `stderr_path`; -1 on failure.
pid_t Spawn(const std::vector<std::string>& args, int* to_child, int* from_child,
            const std::string& stderr_path) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return -1;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  if (pid < 0) {
    close(in[1]);
    close(out[0]);
    return -1;
  }
  *to_child = in[1];
  *from_child = out[0];
  return pid;
}

std::string TempPath(const std::string& stem) {
  std::string path = "/tmp/" + stem + "_XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd >= 0) close(fd);
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

SmtpServer::SmtpServer(SmtpServerOptions options) {
  std::vector<std::string> args{kPython, LINKWATCH_SMTP_FAKE, "--tls", options.tls};
  if (!options.cert_file.empty()) {
    args.insert(args.end(), {"--cert", options.cert_file, "--key", options.key_file});
  }
  if (!options.username.empty()) {
    args.insert(args.end(), {"--auth", options.username + ":" + options.password});
  }
  for (const auto& r : options.replies) args.insert(args.end(), {"--reply", r});
  stderr_path_ = TempPath("lw_smtp_fake_stderr");
  pid_ = Spawn(args, &stdin_fd_, &stdout_fd_, stderr_path_);
  if (pid_ < 0) {
    ADD_FAILURE() << "cannot run " << kPython;
    return;
  }
  reader_ = std::thread([this] { ReadEvents(); });
  const bool ready = WaitFor([](const Events& events) {
    for (const auto& e : events) {
      if (e.value("event", "") == "ready") return true;
    }
    return false;
  });
  if (!ready) {
    ADD_FAILURE() << "the SMTP fake (python3-aiosmtpd) did not start: " << Stderr();
    return;
  }
  for (const auto& e : AllEvents()) {
    if (e.value("event", "") == "ready") port_ = e.value("port", 0);
  }
}

SmtpServer::~SmtpServer() {
  if (stdin_fd_ >= 0) close(stdin_fd_);  // the fake exits at end of input
  if (reader_.joinable()) reader_.join();
  if (stdout_fd_ >= 0) close(stdout_fd_);
  if (pid_ > 0) {
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::remove(stderr_path_.c_str());
}

void SmtpServer::ReadEvents() {
  std::string buffer;
  char chunk[4096];
  for (;;) {
    const ssize_t n = read(stdout_fd_, chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t end;
    while ((end = buffer.find('\n')) != std::string::npos) {
      auto event = nlohmann::json::parse(buffer.substr(0, end), nullptr, false);
      buffer.erase(0, end + 1);
      std::lock_guard lock(mu_);
      events_.push_back(event.is_discarded() ? nlohmann::json{{"event", "garbled"}} : event);
      cv_.notify_all();
    }
  }
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

SmtpServer::Events SmtpServer::AllEvents() const {
  std::lock_guard lock(mu_);
  return events_;
}

SmtpServer::Events SmtpServer::EventsOf(const std::string& kind) const {
  Events out;
  for (const auto& e : AllEvents()) {
    if (e.value("event", "") == kind) out.push_back(e);
  }
  return out;
}

bool SmtpServer::WaitFor(const std::function<bool(const Events&)>& done,
                         std::chrono::milliseconds real_timeout) const {
  std::unique_lock lock(mu_);
  size_t seen = events_.size();
  while (!done(events_)) {
    if (eof_) return false;
    const bool progressed =
        cv_.wait_for(lock, real_timeout, [&] { return events_.size() != seen || eof_; });
    if (!progressed) return done(events_);
    seen = events_.size();
  }
  return true;
}

SmtpServer::Events SmtpServer::WaitForEvents(const std::string& kind, size_t n) const {
  WaitFor([&](const Events& events) {
    size_t count = 0;
    for (const auto& e : events) count += e.value("event", "") == kind;
    return count >= n;
  });
  return EventsOf(kind);
}

bool SmtpServer::AllConnectionsClosed(const Events& events) {
  std::set<int> open;
  bool any = false;
  for (const auto& e : events) {
    const std::string kind = e.value("event", "");
    if (kind == "connect") {
      open.insert(e.value("conn", 0));
      any = true;
    } else if (kind == "closed") {
      open.erase(e.value("conn", 0));
    }
  }
  return any && open.empty();
}

std::string SmtpServer::Stderr() const { return ReadFile(stderr_path_); }

bool MakeTestCertificate(const std::string& cert_file, const std::string& key_file) {
  const std::string log = TempPath("lw_openssl");
  int in = -1, out = -1;
  const pid_t pid = Spawn(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key_file, "-out", cert_file, "-days",
       "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
      &in, &out, log);
  if (pid < 0) return false;
  close(in);
  close(out);
  int status = 0;
  waitpid(pid, &status, 0);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok) ADD_FAILURE() << "openssl req failed: " << ReadFile(log);
  std::remove(log.c_str());
  return ok;
}

}  // namespace linkwatch::fakes
