// log: writes one line per notification to linkwatch's log (spdlog, info).
// No keys of its own (`log: {}`).
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "agent/core/problem.h"
#include "notifiers/registry.h"

namespace linkwatch::notifiers {
namespace {

class LogNotifier final : public Notifier {
 public:
  const std::string& integration() const override {
    static const std::string kName = "log";
    return kName;
  }

  SendResult Send(const Notification& n) override {
    spdlog::info("{}", FormatLogLine(n));
    return SendResult::Ok();
  }

  // "[FIRING:1] SyncStalled crm receiver=console group=... alerts: firing
  // {alertname="SyncStalled", ...} summary=\"...\""
  static std::string FormatLogLine(const Notification& n) {
    std::string line = n.Title() + " receiver=" + n.receiver + " group=" + n.group_key;
    if (n.truncated_alerts > 0) line += " truncated=" + std::to_string(n.truncated_alerts);
    line += " alerts:";
    for (size_t i = 0; i < n.alerts.size(); ++i) {
      const Alert& a = n.alerts[i];
      line += (i == 0 ? " " : "; ");
      line += std::string(AlertStateName(a.state)) + " " + FormatLabelSet(a.labels);
      if (auto it = a.annotations.find("summary"); it != a.annotations.end()) {
        line += " summary=" + QuoteLabelValue(it->second);
      }
    }
    return line;
  }
};

}  // namespace

std::unique_ptr<Notifier> MakeLogNotifier(const YAML::Node& spec, const ReceiverContext& ctx) {
  if (!spec.IsNull() && !spec.IsMap()) {
    ctx.problems.Add(spec, ctx.What("log") + " must be a mapping (log: {})");
    return nullptr;
  }
  const size_t before = ctx.problems.list().size();
  ctx.CheckKeys(spec, {});
  if (ctx.problems.list().size() != before) return nullptr;
  return std::make_unique<LogNotifier>();
}

}  // namespace linkwatch::notifiers
