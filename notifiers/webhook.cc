// webhook: POSTs the Alertmanager webhook v4 body (notifications.md) to a URL.
// Keys: url (secret), headers (map; values may be secrets), hmac_secret
// (secret; X-Linkwatch-Signature: sha256=<hex HMAC-SHA256 of the body>),
// max_alerts (0 = all), timeout (default 10s).
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "agent/core/crypto.h"
#include "agent/core/problem.h"
#include "agent/core/secret.h"
#include "agent/core/text.h"
#include "agent/core/yaml_util.h"
#include "agent/net/http_client.h"
#include "notifiers/http_answer.h"
#include "notifiers/http_keys.h"
#include "notifiers/registry.h"

namespace linkwatch::notifiers {
namespace {

class WebhookNotifier final : public Notifier {
 public:
  WebhookNotifier(Secret url, std::vector<std::pair<std::string, Secret>> headers, Secret hmac,
                  size_t max_alerts, Millis timeout, const Clock& clock)
      : url_(std::move(url)),
        headers_(std::move(headers)),
        hmac_(std::move(hmac)),
        max_alerts_(max_alerts),
        timeout_(timeout),
        clock_(clock) {}

  const std::string& integration() const override {
    static const std::string kName = "webhook";
    return kName;
  }

  SendResult Send(const Notification& n) override {
    net::OutboundRequest req;
    req.url = url_.Reveal();
    req.body = WebhookBody(n, max_alerts_).dump();
    req.timeout = timeout_;
    bool has_content_type = false;
    for (const auto& [name, value] : headers_) {
      has_content_type = has_content_type || EqualsIgnoreCase(name, "Content-Type");
      req.headers.emplace_back(name, value.Reveal());
    }
    if (!has_content_type) req.headers.emplace_back("Content-Type", "application/json");
    if (!hmac_.empty()) {
      req.headers.emplace_back("X-Linkwatch-Signature",
                               "sha256=" + HexEncode(HmacSha256(hmac_.Reveal(), req.body)));
    }
    return ClassifyHttpResponse(client_.Send(req), clock_);
  }

 private:
  Secret url_;
  std::vector<std::pair<std::string, Secret>> headers_;
  Secret hmac_;
  size_t max_alerts_;
  Millis timeout_;
  const Clock& clock_;
  net::HttpClient client_;
};

}  // namespace

std::unique_ptr<Notifier> MakeWebhookNotifier(const YAML::Node& spec, const ReceiverContext& ctx) {
  Problems& p = ctx.problems;
  const std::string what = ctx.What("webhook");
  if (!spec.IsMap()) {
    p.Add(spec, what + " must be a mapping with at least url");
    return nullptr;
  }
  const size_t before = p.list().size();
  ctx.CheckKeys(spec, {"url", "headers", "hmac_secret", "max_alerts", "timeout"});
  Secret url = ParseHttpUrl(spec, ctx, what);
  std::vector<std::pair<std::string, Secret>> headers;
  if (const auto& h = spec["headers"]) {
    if (!h.IsMap()) {
      p.Add(h, what + ": headers must be a mapping of header name to value");
    } else {
      for (const auto& kv : h) {
        const std::string name = kv.first.Scalar();
        if (name.empty() || name.find_first_of(": \t\r\n") != std::string::npos) {
          p.Add(kv.first, what + ": invalid header name \"" + name + "\"");
          continue;
        }
        if (EqualsIgnoreCase(name, "X-Linkwatch-Signature")) {
          p.Add(kv.first, what + ": X-Linkwatch-Signature is set by hmac_secret");
          continue;
        }
        Secret value = Secret::FromYaml(kv.second, ctx.base_dir, p, what + " header " + name);
        if (value.Reveal().find_first_of("\r\n") != std::string::npos) {
          p.Add(kv.second, what + ": header " + name + " must not contain a line break");
        }
        headers.emplace_back(name, std::move(value));
      }
    }
  }
  Secret hmac;
  if (spec["hmac_secret"]) {
    hmac = Secret::FromYaml(spec["hmac_secret"], ctx.base_dir, p, what + " hmac_secret");
    if (hmac.empty() && p.list().size() == before) {
      p.Add(spec["hmac_secret"], what + ": hmac_secret must not be empty");
    }
  }
  size_t max_alerts = 0;
  if (spec["max_alerts"]) {
    if (auto v = GetInt(spec["max_alerts"], p, what + " max_alerts")) {
      if (*v < 0) {
        p.Add(spec["max_alerts"], what + ": max_alerts must be 0 (no limit) or more");
      } else {
        max_alerts = static_cast<size_t>(*v);
      }
    }
  }
  const Millis timeout = ParseHttpTimeout(spec, ctx, what);
  if (p.list().size() != before) return nullptr;
  return std::make_unique<WebhookNotifier>(std::move(url), std::move(headers), std::move(hmac),
                                           max_alerts, timeout, ctx.clock);
}

}  // namespace linkwatch::notifiers
