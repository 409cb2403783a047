// alertmanager: forwards alerts to an Alertmanager (cluster) with
// POST <url>/api/v2/alerts (notifications.md, "alertmanager"), so that
// several linkwatch replicas feed one deduplicating Alertmanager.
// Keys: url (secret; the Alertmanager's base URL), resend_interval (default
// 1m), headers (map; values may be secrets, e.g. Authorization), timeout.
//
// Alertmanager keeps no state for its clients: every firing alert is sent
// again each resend_interval (ResendInterval makes the dispatcher re-send
// the receiver's groups that often) with endsAt = now + 4 x resend_interval,
// so that it resolves by itself if linkwatch goes away; a resolved alert is
// sent with its real endsAt, and again with the group's re-sends for 15
// minutes.
#include <yaml-cpp/yaml.h>

#include <map>
#include <nlohmann/json.hpp>

#include "agent/core/problem.h"
#include "agent/core/secret.h"
#include "agent/core/text.h"
#include "agent/core/time_format.h"
#include "agent/core/yaml_util.h"
#include "agent/net/http_client.h"
#include "notifiers/http_answer.h"
#include "notifiers/registry.h"

namespace linkwatch::notifiers {
namespace {

constexpr Millis kDefaultResend{60 * 1000};
constexpr double kResolvedResendSeconds = 15 * 60;

class AlertmanagerNotifier final : public Notifier {
 public:
  AlertmanagerNotifier(Secret url, std::vector<std::pair<std::string, Secret>> headers,
                       Millis resend, Millis timeout, const Clock& clock)
      : url_(std::move(url)),
        headers_(std::move(headers)),
        resend_(resend),
        timeout_(timeout),
        clock_(clock) {}

  const std::string& integration() const override {
    static const std::string kName = "alertmanager";
    return kName;
  }

  std::optional<Millis> ResendInterval() const override { return resend_; }

  SendResult Send(const Notification& n) override {
    const double now = ToEpochSeconds(clock_.Now());
    const double resend_seconds = std::chrono::duration<double>(resend_).count();
    auto& recent = resolved_[n.group_key];
    nlohmann::json body = nlohmann::json::array();
    std::set<std::string> sent;
    for (const Alert& a : n.alerts) {
      const bool firing = a.state == AlertState::kFiring;
      const double ends = firing ? now + 4 * resend_seconds : (a.ends_at > 0 ? a.ends_at : now);
      nlohmann::json j = Json(n, a, ends);
      if (!firing) recent[a.fingerprint] = {j, ends};
      body.push_back(std::move(j));
      sent.insert(a.fingerprint);
    }
    // Resolved alerts of the group, again for 15 minutes after they ended.
    for (auto it = recent.begin(); it != recent.end();) {
      if (it->second.second < now - kResolvedResendSeconds) {
        it = recent.erase(it);
        continue;
      }
      if (!sent.count(it->first)) body.push_back(it->second.first);
      ++it;
    }
    if (recent.empty()) resolved_.erase(n.group_key);

    net::OutboundRequest req;
    std::string base = url_.Reveal();
    while (!base.empty() && base.back() == '/') base.pop_back();
    req.url = base + "/api/v2/alerts";
    req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    req.timeout = timeout_;
    req.headers.emplace_back("Content-Type", "application/json");
    for (const auto& [name, value] : headers_) req.headers.emplace_back(name, value.Reveal());
    return ClassifyHttpResponse(client_.Send(req), clock_);
  }

 private:
  static nlohmann::json Json(const Notification& n, const Alert& a, double ends_at) {
    return {{"labels", a.labels},
            {"annotations", a.annotations},
            {"startsAt", FormatDateTime(a.starts_at)},
            {"endsAt", FormatDateTime(ends_at)},
            {"generatorURL", GeneratorUrl(n.external_url, a)}};
  }

  Secret url_;
  std::vector<std::pair<std::string, Secret>> headers_;
  Millis resend_;
  Millis timeout_;
  const Clock& clock_;
  net::HttpClient client_;
  // Per group: resolved alerts sent lately (their JSON and endsAt).
  std::map<std::string, std::map<std::string, std::pair<nlohmann::json, double>>> resolved_;
};

}  // namespace

std::unique_ptr<Notifier> MakeAlertmanagerNotifier(const YAML::Node& spec,
                                                   const ReceiverContext& ctx) {
  Problems& p = ctx.problems;
  const std::string what = ctx.What("alertmanager");
  if (!spec.IsMap()) {
    p.Add(spec, what + " must be a mapping with at least url");
    return nullptr;
  }
  const size_t before = p.list().size();
  ctx.CheckKeys(spec, {"url", "resend_interval", "headers", "timeout"});
  Secret url =
      ctx.HttpUrl(spec, "alertmanager", "the Alertmanager's base URL, e.g. http://127.0.0.1:9093");
  std::vector<std::pair<std::string, Secret>> headers = ctx.Headers(spec, "alertmanager");
  const Millis resend =
      ctx.PositiveDuration(spec, "resend_interval", "alertmanager", kDefaultResend);
  const Millis timeout =
      ctx.PositiveDuration(spec, "timeout", "alertmanager", net::kDefaultHttpTimeout);
  if (p.list().size() != before) return nullptr;
  return std::make_unique<AlertmanagerNotifier>(std::move(url), std::move(headers), resend, timeout,
                                                ctx.clock);
}

}  // namespace linkwatch::notifiers
