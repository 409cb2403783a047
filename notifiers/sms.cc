// sms: one short text per notification to a list of phone numbers
// (notifications.md, "sms"), through one of three providers:
//   twilio   POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json,
//            one form-encoded request per recipient, HTTP Basic auth;
//   acs      Azure Communication Services, POST {endpoint}/sms?api-version=2021-03-07
//            for all recipients at once, HMAC-SHA256 signed with the access key
//            of the connection string; the 202 answer says per recipient
//            whether it was accepted;
//   webhook  POST url with {"to", "message", "status", "alerts"}.
// Keys: provider (required), to (list), text (template, default one line per
// alert), timeout; twilio: account_sid, auth_token (secret), from or
// messaging_service_sid, base_url; acs: connection_string (secret), from;
// webhook: url (secret).
//
// The text is one line fitted to one 160-character segment where possible
// (FitSmsText). Per-recipient progress across the outbox's retries: the
// notifier remembers, per notification (receiver, group_key, created_at),
// which recipients were sent and which failed for good, and each retry goes
// only to the others; a notification ends when no recipient is left to try:
// delivered when every recipient was sent, permanent (dead letter, the
// detail counting the failed recipients) when some failed for good. The
// memory is lost on a restart or reload; ACS then deduplicates the re-send
// by its deterministic repeatabilityRequestId, Twilio would send again (at
// least once, as the delivery model says).
//
// Called from one outbox worker thread only (notifier.h), so not thread-safe.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/core/crypto.h"
#include "agent/core/problem.h"
#include "agent/core/secret.h"
#include "agent/core/text.h"
#include "agent/core/time_format.h"
#include "agent/core/utf8.h"
#include "agent/core/yaml_util.h"
#include "agent/net/http_client.h"
#include "notifiers/http_answer.h"
#include "notifiers/message.h"
#include "notifiers/registry.h"

namespace linkwatch::notifiers {
namespace {

// One GSM-7 segment; a longer text goes out in several (concatenated SMS,
// 153 characters each) up to the providers' limit of 1,600.
constexpr size_t kSegmentChars = 160;
constexpr size_t kMaxChars = 1600;
// ASCII on purpose: "…" is not in the GSM-7 alphabet and would make the
// whole message UCS-2 (70 characters a segment).
constexpr std::string_view kEllipsis = "...";
constexpr size_t kMaxAcsRecipients = 100;
constexpr std::string_view kAcsPathAndQuery = "/sms?api-version=2021-03-07";

// Characters (code points; an ill-formed byte counts as one) of `s`.
size_t CharCount(std::string_view s) {
  size_t n = 0;
  while (!s.empty()) {
    s.remove_prefix(Utf8At(s).length);
    ++n;
  }
  return n;
}

// The first `chars` characters of `s`, never splitting one.
std::string_view CutChars(std::string_view s, size_t chars) {
  size_t bytes = 0;
  for (size_t i = 0; i < chars && bytes < s.size(); ++i) {
    bytes += Utf8At(s.substr(bytes)).length;
  }
  return s.substr(0, bytes);
}

std::string MoreAlerts(size_t n) {
  return " (and " + std::to_string(n) + (n == 1 ? " more alert)" : " more alerts)");
}

}  // namespace

// The SMS text of a rendered template (declared in tests/notifiers/sms_test.cc
// too): its non-empty lines, trimmed, joined with "; " when that fits one
// segment; otherwise the first line and " (and N more alerts)" (N: the other
// lines and the alerts the notification already left out); never more than
// 1,600 characters (the first line is cut, with "...", keeping the count).
std::string FitSmsText(std::string_view rendered, int truncated_alerts) {
  std::vector<std::string_view> lines;
  while (!rendered.empty()) {
    const size_t nl = rendered.find('\n');
    std::string_view line = StripAsciiWhitespace(rendered.substr(0, nl));
    if (!line.empty()) lines.push_back(line);
    if (nl == std::string_view::npos) break;
    rendered.remove_prefix(nl + 1);
  }
  if (lines.empty()) return "";
  std::string joined;
  for (const auto& line : lines) {
    if (!joined.empty()) joined += "; ";
    joined += line;
  }
  const size_t more = lines.size() - 1 + static_cast<size_t>(std::max(truncated_alerts, 0));
  if (more == 0 || (truncated_alerts <= 0 && CharCount(joined) <= kSegmentChars)) {
    if (CharCount(joined) <= kMaxChars) return joined;
    return std::string(CutChars(joined, kMaxChars - kEllipsis.size())) + std::string(kEllipsis);
  }
  const std::string suffix = MoreAlerts(more);
  std::string first(lines[0]);
  const size_t room = kMaxChars - CharCount(suffix);
  if (CharCount(first) > room) {
    first = std::string(CutChars(first, room - kEllipsis.size())) + std::string(kEllipsis);
  }
  return first + suffix;
}

namespace {

// What one attempt did for each recipient it was given (same order).
using RecipientResults = std::vector<SendResult>;

// A provider sends one text to some of the configured recipients.
class SmsProvider {
 public:
  virtual ~SmsProvider() = default;
  // `recipients` is never empty; the answer has one result per recipient.
  virtual RecipientResults Send(const Notification& n, const std::string& text,
                                const std::vector<std::string>& recipients) = 0;
  virtual std::optional<RateLimit> DefaultRateLimit() const { return std::nullopt; }
};

// Identity of a notification across the outbox's attempts and restarts.
std::string NotificationId(const Notification& n) {
  return n.receiver + "|" + n.group_key + "|" + FormatDateTime(n.created_at);
}

// A UUID (version 8, RFC 9562's custom layout) from the SHA-256 of
// `name`: the same notification and recipient always give the same id.
std::string DeterministicUuid(const std::string& name) {
  std::string h = Sha256(name).substr(0, 16);
  h[6] = static_cast<char>((h[6] & 0x0f) | 0x80);
  h[8] = static_cast<char>((h[8] & 0x3f) | 0x80);
  const std::string hex = HexEncode(h);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

// ---- twilio ---------------------------------------------------------------

class TwilioProvider final : public SmsProvider {
 public:
  TwilioProvider(std::string base_url, std::string account_sid, Secret auth_token, std::string from,
                 std::string messaging_service_sid, Millis timeout, const Clock& clock)
      : url_(std::move(base_url) + "/2010-04-01/Accounts/" + PercentEncode(account_sid) +
             "/Messages.json"),
        account_sid_(std::move(account_sid)),
        auth_token_(std::move(auth_token)),
        from_(std::move(from)),
        messaging_service_sid_(std::move(messaging_service_sid)),
        timeout_(timeout),
        clock_(clock) {}

  // One request per recipient. A failure that is not about the recipient
  // (retry, auth) ends the attempt: the others would meet it too, and get
  // the same result without being tried.
  RecipientResults Send(const Notification&, const std::string& text,
                        const std::vector<std::string>& recipients) override {
    RecipientResults results;
    for (const auto& to : recipients) {
      SendResult r = SendOne(to, text);
      const bool about_recipient = r.ok() || r.reason == "clientError";
      results.push_back(std::move(r));
      if (!about_recipient) break;
    }
    const SendResult last = results.back();  // a copy: resize may reallocate
    results.resize(recipients.size(), last);
    return results;
  }

  // A US long code sends one segment per second; Twilio queues the rest.
  std::optional<RateLimit> DefaultRateLimit() const override { return RateLimit{1, 10}; }

 private:
  SendResult SendOne(const std::string& to, const std::string& text) {
    net::OutboundRequest req;
    req.url = url_;
    req.timeout = timeout_;
    req.body = "To=" + PercentEncode(to) +
               (messaging_service_sid_.empty()
                    ? "&From=" + PercentEncode(from_)
                    : "&MessagingServiceSid=" + PercentEncode(messaging_service_sid_)) +
               "&Body=" + PercentEncode(text);
    req.headers = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"},
        {"Authorization", "Basic " + Base64Encode(account_sid_ + ":" + auth_token_.Reveal())}};
    const net::OutboundResponse answer = client_.Send(req);
    SendResult r = ClassifyHttpResponse(answer, clock_);
    if (!r.ok() && answer.answered()) r.detail = ErrorDetail(answer);
    return r;
  }

  // Twilio's error body {"code", "message", "more_info", "status"}: its code
  // and message say more than the raw body.
  static std::string ErrorDetail(const net::OutboundResponse& answer) {
    std::string detail = "HTTP " + std::to_string(answer.status);
    const auto body = nlohmann::json::parse(answer.body, nullptr, false);
    if (body.is_object() && body.contains("code") && body.contains("message")) {
      const auto& code = body["code"];
      const auto& message = body["message"];
      detail += ": Twilio error " + (code.is_string() ? code.get<std::string>() : code.dump());
      if (message.is_string()) detail += ": " + message.get<std::string>();
    } else if (!answer.body.empty()) {
      detail += ": " + answer.body.substr(0, 200);
    }
    return detail;
  }

  const std::string url_;
  const std::string account_sid_;
  const Secret auth_token_;
  const std::string from_;
  const std::string messaging_service_sid_;
  const Millis timeout_;
  const Clock& clock_;
  net::HttpClient client_;
};

// ---- acs ------------------------------------------------------------------

// The parts of an ACS connection string
// "endpoint=https://<res>.communication.azure.com/;accesskey=<base64>".
struct AcsAccess {
  std::string endpoint;  // scheme and authority, no trailing slash
  std::string host;      // what the Host header carries: host, with :port when not default
  std::string key;       // the decoded access key
};

// Never puts the connection string or the key into the error.
Result<AcsAccess> ParseAcsConnectionString(std::string_view text) {
  std::string endpoint, key;
  bool has_key = false;
  while (!text.empty()) {
    const size_t semi = text.find(';');
    std::string_view part = StripAsciiWhitespace(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return Status::Error("connection_string must be endpoint=https://...;accesskey=...");
    }
    const std::string name = AsciiToLower(StripAsciiWhitespace(part.substr(0, eq)));
    const std::string_view value = StripAsciiWhitespace(part.substr(eq + 1));
    if (name == "endpoint") {
      endpoint = std::string(value);
    } else if (name == "accesskey") {
      key = std::string(value);
      has_key = true;
    } else {
      return Status::Error("connection_string has an unknown part \"" + name +
                           "\" (expected endpoint and accesskey)");
    }
  }
  if (endpoint.empty()) return Status::Error("connection_string has no endpoint=https://...");
  if (!has_key) return Status::Error("connection_string has no accesskey=...");
  AcsAccess out;
  std::string_view rest = endpoint;
  int default_port = 0;
  if (rest.rfind("https://", 0) == 0) {
    default_port = 443;
    rest.remove_prefix(8);
  } else if (rest.rfind("http://", 0) == 0) {
    default_port = 80;
    rest.remove_prefix(7);
  } else {
    return Status::Error("connection_string endpoint must start with https:// (or http://)");
  }
  const size_t slash = rest.find('/');
  if (slash != std::string_view::npos && rest.substr(slash) != "/") {
    return Status::Error("connection_string endpoint must have no path (https://<resource>/)");
  }
  std::string authority(rest.substr(0, slash));
  if (authority.empty() || authority.find_first_of("@?# ") != std::string::npos) {
    return Status::Error("connection_string endpoint has no valid host");
  }
  out.endpoint = endpoint.substr(0, endpoint.size() - rest.size()) + authority;
  const std::string default_suffix = ":" + std::to_string(default_port);
  if (authority.size() > default_suffix.size() &&
      authority.compare(authority.size() - default_suffix.size(), default_suffix.size(),
                        default_suffix) == 0) {
    authority.resize(authority.size() - default_suffix.size());
  }
  out.host = authority;
  auto decoded = Base64Decode(key);
  if (!decoded || decoded->empty()) {
    return Status::Error("connection_string accesskey is not base64 (it is printed nowhere)");
  }
  out.key = std::move(*decoded);
  return out;
}

class AcsProvider final : public SmsProvider {
 public:
  AcsProvider(AcsAccess access, std::string from, Millis timeout, const Clock& clock)
      : access_(std::move(access)), from_(std::move(from)), timeout_(timeout), clock_(clock) {}

  RecipientResults Send(const Notification& n, const std::string& text,
                        const std::vector<std::string>& recipients) override {
    net::OutboundRequest req;
    req.url = access_.endpoint + std::string(kAcsPathAndQuery);
    req.timeout = timeout_;
    req.body = Body(n, text, recipients);
    req.headers = SignedHeaders(req.body);
    req.headers.emplace_back("Content-Type", "application/json");
    const net::OutboundResponse answer = client_.Send(req);
    SendResult whole = ClassifyHttpResponse(answer, clock_);
    if (!whole.ok()) return RecipientResults(recipients.size(), whole);
    return PerRecipient(answer, recipients);
  }

  // ACS's default throttle for a toll-free number: 200 messages a minute.
  std::optional<RateLimit> DefaultRateLimit() const override { return RateLimit{200.0 / 60, 10}; }

 private:
  // The same recipient of the same notification always carries the same
  // repeatabilityRequestId and repeatabilityFirstSent, also after a restart,
  // so ACS sends it at most once.
  std::string Body(const Notification& n, const std::string& text,
                   const std::vector<std::string>& recipients) const {
    const std::string first_sent = FormatHttpDate(FromEpochSeconds(n.created_at));
    nlohmann::ordered_json to = nlohmann::ordered_json::array();
    for (const auto& r : recipients) {
      to.push_back({{"to", r},
                    {"repeatabilityRequestId", DeterministicUuid(NotificationId(n) + "|" + r)},
                    {"repeatabilityFirstSent", first_sent}});
    }
    nlohmann::ordered_json body = {{"from", from_},
                                   {"smsRecipients", std::move(to)},
                                   {"message", text},
                                   {"smsSendOptions", {{"enableDeliveryReport", false}}}};
    return body.dump();
  }

  // The documented HMAC-SHA256 scheme: x-ms-date, x-ms-content-sha256, and
  // the signature of "POST\n<path and query>\n<date>;<host>;<hash>".
  net::HttpHeaders SignedHeaders(const std::string& body) const {
    const std::string date = FormatHttpDate(clock_.Now());
    const std::string hash = Base64Encode(Sha256(body));
    const std::string to_sign =
        "POST\n" + std::string(kAcsPathAndQuery) + "\n" + date + ";" + access_.host + ";" + hash;
    const std::string signature = Base64Encode(HmacSha256(access_.key, to_sign));
    return {
        {"x-ms-date", date},
        {"x-ms-content-sha256", hash},
        {"Authorization",
         "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" + signature}};
  }

  // The 2xx body {"value": [{"to", "httpStatusCode", "successful",
  // "errorMessage", ...}]}: each recipient's own answer, classified like an
  // HTTP answer of that status. A recipient the body does not mention is
  // retried (the repeatability id makes that safe).
  RecipientResults PerRecipient(const net::OutboundResponse& answer,
                                const std::vector<std::string>& recipients) const {
    std::map<std::string, SendResult> by_to;
    const auto body = nlohmann::json::parse(answer.body, nullptr, false);
    if (body.is_object() && body.contains("value") && body["value"].is_array()) {
      for (const auto& v : body["value"]) {
        if (!v.is_object() || !v.contains("to") || !v["to"].is_string()) continue;
        by_to[v["to"].get<std::string>()] = RecipientResult(v);
      }
    }
    RecipientResults out;
    for (const auto& r : recipients) {
      auto it = by_to.find(r);
      out.push_back(it != by_to.end()
                        ? it->second
                        : SendResult::Retry("other", "HTTP " + std::to_string(answer.status) +
                                                         " without an answer for "
                                                         "the recipient"));
    }
    return out;
  }

  SendResult RecipientResult(const nlohmann::json& v) const {
    if (v.value("successful", false)) return SendResult::Ok();
    net::OutboundResponse own;
    const auto& status = v.contains("httpStatusCode") ? v["httpStatusCode"] : nlohmann::json();
    own.status = status.is_number_integer() ? status.get<long>() : 500;
    if (own.status >= 200 && own.status < 300) own.status = 500;  // unsuccessful after all
    if (v.contains("errorMessage") && v["errorMessage"].is_string()) {
      own.body = v["errorMessage"].get<std::string>();
    }
    return ClassifyHttpResponse(own, clock_);
  }

  const AcsAccess access_;
  const std::string from_;
  const Millis timeout_;
  const Clock& clock_;
  net::HttpClient client_;
};

// ---- webhook --------------------------------------------------------------

class WebhookProvider final : public SmsProvider {
 public:
  WebhookProvider(Secret url, Millis timeout, const Clock& clock)
      : url_(std::move(url)), timeout_(timeout), clock_(clock) {}

  // One request for every recipient: its answer is each one's.
  RecipientResults Send(const Notification& n, const std::string& text,
                        const std::vector<std::string>& recipients) override {
    net::OutboundRequest req;
    req.url = url_.Reveal();
    req.timeout = timeout_;
    req.headers = {{"Content-Type", "application/json"}};
    nlohmann::ordered_json body = {{"to", recipients},
                                   {"message", text},
                                   {"status", n.StatusText()},
                                   {"alerts", n.alerts.size()}};
    req.body = body.dump();
    return RecipientResults(recipients.size(), ClassifyHttpResponse(client_.Send(req), clock_));
  }

 private:
  const Secret url_;
  const Millis timeout_;
  const Clock& clock_;
  net::HttpClient client_;
};

// ---- the notifier ----------------------------------------------------------

// Which recipients of one notification were sent, and which failed for good.
struct Progress {
  std::string id;  // NotificationId
  std::set<std::string> sent;
  std::vector<SendResult> permanent;  // one per recipient that failed for good
  std::set<std::string> failed;
};

class SmsNotifier final : public Notifier {
 public:
  SmsNotifier(std::unique_ptr<SmsProvider> provider, std::vector<std::string> to,
              MessageTemplates templates)
      : provider_(std::move(provider)), to_(std::move(to)), templates_(std::move(templates)) {}

  const std::string& integration() const override {
    static const std::string kName = "sms";
    return kName;
  }

  std::optional<RateLimit> DefaultRateLimit() const override {
    return provider_->DefaultRateLimit();
  }

  SendResult Send(const Notification& n) override {
    const RenderedMessage m = templates_.Render(n);
    const std::string text = FitSmsText(m["text"], n.truncated_alerts);
    Progress& p = ProgressOf(n);
    const std::vector<std::string> left = Left(p);
    ToRetry retry;
    if (!left.empty()) retry = Record(p, left, provider_->Send(n, text, left));
    SendResult out = Outcome(p, retry);
    if (out.kind != SendResult::kRetry) Forget(n);
    if (m.template_error) out.template_error = m.error;
    return out;
  }

 private:
  // The recipients of this round's retry: the first one's result (with the
  // longest Retry-After of them all) and how many there are.
  struct ToRetry {
    std::optional<SendResult> first;
    size_t count = 0;
  };

  // The recipients neither sent nor failed for good, in config order.
  std::vector<std::string> Left(const Progress& p) const {
    std::vector<std::string> left;
    for (const auto& r : to_) {
      if (!p.sent.count(r) && !p.failed.count(r)) left.push_back(r);
    }
    return left;
  }

  static ToRetry Record(Progress& p, const std::vector<std::string>& recipients,
                        const RecipientResults& results) {
    ToRetry retry;
    for (size_t i = 0; i < recipients.size(); ++i) {
      const SendResult& r = results[i];
      if (r.ok()) {
        p.sent.insert(recipients[i]);
      } else if (r.kind == SendResult::kPermanent) {
        p.failed.insert(recipients[i]);
        p.permanent.push_back(r);
      } else {
        ++retry.count;
        if (!retry.first) retry.first = r;
        auto& after = retry.first->retry_after;
        if (r.retry_after && (!after || *r.retry_after > *after)) after = r.retry_after;
      }
    }
    return retry;
  }

  // Retry while some recipient may still get it; then delivered when all
  // were sent, else permanent with the first permanent failure's reason.
  // Details count recipients and never name them.
  SendResult Outcome(const Progress& p, const ToRetry& retry) const {
    const std::string of = " of " + std::to_string(to_.size()) + " recipients ";
    const std::string sent = " (" + std::to_string(p.sent.size()) + " sent)";
    if (retry.first) {
      const SendResult& first = *retry.first;
      if (to_.size() == 1) return first;
      return SendResult::Retry(
          first.reason, std::to_string(retry.count) + of + "to retry" + sent + ": " + first.detail,
          first.retry_after);
    }
    if (p.permanent.empty()) return SendResult::Ok();
    const SendResult& first = p.permanent.front();
    if (to_.size() == 1) return first;
    return SendResult::Permanent(first.reason, std::to_string(p.permanent.size()) + of +
                                                   "failed permanently" + sent + ": " +
                                                   first.detail);
  }

  // One entry per (receiver, group): a newer notification of the group
  // replaces the older one's progress (the outbox superseded it).
  Progress& ProgressOf(const Notification& n) {
    const std::string group = n.receiver + "|" + n.group_key;
    auto it = progress_.find(group);
    if (it == progress_.end()) {
      // The outbox sends one notification at a time per receiver, so few are
      // ever here; the bound only guards against a leak.
      if (progress_.size() >= kMaxTracked) progress_.erase(progress_.begin());
      it = progress_.emplace(group, Progress{}).first;
    }
    const std::string id = NotificationId(n);
    if (it->second.id != id) it->second = Progress{id, {}, {}, {}};
    return it->second;
  }

  void Forget(const Notification& n) { progress_.erase(n.receiver + "|" + n.group_key); }

  static constexpr size_t kMaxTracked = 256;
  std::unique_ptr<SmsProvider> provider_;
  const std::vector<std::string> to_;
  const MessageTemplates templates_;
  std::map<std::string, Progress> progress_;
};

// ---- configuration ---------------------------------------------------------

const std::vector<MessageField>& SmsFields() {
  static const std::vector<MessageField> kFields{{"text", kDefaultLine}};
  return kFields;
}

std::vector<std::string> KnownKeys(const std::string& provider) {
  std::vector<std::string> keys{"provider", "to", "timeout"};
  for (const auto& k : MessageTemplates::FieldKeys(SmsFields())) keys.push_back(k);
  const bool any = provider != "twilio" && provider != "acs" && provider != "webhook";
  if (any || provider == "twilio") {
    keys.insert(keys.end(),
                {"account_sid", "auth_token", "from", "messaging_service_sid", "base_url"});
  }
  if (any || provider == "acs") keys.insert(keys.end(), {"connection_string", "from"});
  if (any || provider == "webhook") keys.push_back("url");
  return keys;
}

// E.164: "+", then 2 to 15 digits, the first not 0.
bool IsE164(const std::string& s) {
  if (s.size() < 3 || s.size() > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Reads the whole mapping; returns nullptr after adding problems.
class SmsConfig {
 public:
  SmsConfig(const YAML::Node& spec, const ReceiverContext& ctx)
      : spec_(spec), ctx_(ctx), p_(ctx.problems), what_(ctx.What("sms")) {}

  std::unique_ptr<Notifier> Build() {
    if (!spec_.IsMap()) {
      p_.Add(spec_, what_ + " must be a mapping with at least provider and to");
      return nullptr;
    }
    const size_t before = p_.list().size();
    std::string provider;
    if (!spec_["provider"]) {
      p_.Add(spec_, what_ + ": provider is required (twilio, acs or webhook)");
    } else if (auto v = GetString(spec_["provider"], p_, what_ + " provider")) {
      provider = *v;
      if (provider != "twilio" && provider != "acs" && provider != "webhook") {
        p_.Add(spec_["provider"],
               what_ + ": provider must be twilio, acs or webhook, not \"" + provider + "\"");
      }
    }
    ctx_.CheckKeys(spec_, KnownKeys(provider));
    timeout_ = Timeout();
    to_ = Recipients(provider);
    MessageTemplates templates = MessageTemplates::FromYaml(spec_, ctx_, SmsFields());
    std::unique_ptr<SmsProvider> built;
    if (provider == "twilio") built = Twilio();
    if (provider == "acs") built = Acs();
    if (provider == "webhook") built = Webhook();
    if (p_.list().size() != before || !built) return nullptr;
    return std::make_unique<SmsNotifier>(std::move(built), std::move(to_), std::move(templates));
  }

 private:
  std::unique_ptr<SmsProvider> Twilio() {
    const std::string sid = Required("account_sid");
    Secret token = RequiredSecret("auth_token");
    std::string from, service;
    if (spec_["from"] && spec_["messaging_service_sid"]) {
      p_.Add(spec_["messaging_service_sid"],
             what_ + ": give either from or messaging_service_sid, not both");
    } else if (spec_["messaging_service_sid"]) {
      service = Required("messaging_service_sid");
    } else if (spec_["from"]) {
      from = Required("from");
    } else {
      p_.Add(spec_, what_ + ": twilio needs from (a number or sender id) or messaging_service_sid");
    }
    std::string base_url = "https://api.twilio.com";
    if (spec_["base_url"]) {
      base_url = ctx_.HttpUrl(spec_, "sms", "", "base_url").Reveal();
      while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
    }
    return std::make_unique<TwilioProvider>(base_url, sid, std::move(token), from, service,
                                            timeout_, ctx_.clock);
  }

  std::unique_ptr<SmsProvider> Acs() {
    Secret cs = RequiredSecret("connection_string");
    const std::string from = Required("from");
    if (to_.size() > kMaxAcsRecipients) {
      p_.Add(spec_["to"], what_ + ": acs sends to at most " + std::to_string(kMaxAcsRecipients) +
                              " recipients, to lists " + std::to_string(to_.size()));
    }
    if (cs.empty()) return nullptr;
    auto access = ParseAcsConnectionString(cs.Reveal());
    if (!access.ok()) {
      p_.Add(spec_["connection_string"],
             what_ + ": " + access.message() + " (" + cs.Describe() + ")");
      return nullptr;
    }
    return std::make_unique<AcsProvider>(std::move(access).value(), from, timeout_, ctx_.clock);
  }

  std::unique_ptr<SmsProvider> Webhook() {
    Secret url = ctx_.HttpUrl(spec_, "sms");
    return std::make_unique<WebhookProvider>(std::move(url), timeout_, ctx_.clock);
  }

  std::vector<std::string> Recipients(const std::string& provider) {
    const YAML::Node& node = spec_["to"];
    if (!node) {
      p_.Add(spec_, what_ + ": to is required (a list of phone numbers)");
      return {};
    }
    std::vector<std::string> to = GetStringList(node, p_, what_ + " to");
    if (node.IsSequence() && to.empty()) {
      p_.Add(node, what_ + ": to must list at least one recipient");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < to.size(); ++i) {
      if (!seen.insert(to[i]).second) {
        p_.Add(node[i], what_ + ": recipient \"" + to[i] + "\" is listed twice");
      } else if (provider != "webhook" && !IsE164(to[i])) {
        p_.Add(node[i], what_ + ": recipient \"" + to[i] +
                            "\" is not an E.164 phone number (+ and up to 15 digits)");
      }
    }
    return to;
  }

  Millis Timeout() {
    return ctx_.PositiveDuration(spec_, "timeout", "sms", net::kDefaultHttpTimeout);
  }

  std::string Required(const std::string& key) {
    if (!spec_[key]) {
      p_.Add(spec_, what_ + ": " + key + " is required");
      return "";
    }
    auto v = GetString(spec_[key], p_, what_ + " " + key);
    if (v && v->empty()) p_.Add(spec_[key], what_ + ": " + key + " must not be empty");
    return v.value_or("");
  }

  Secret RequiredSecret(const std::string& key) {
    if (!spec_[key]) {
      p_.Add(spec_, what_ + ": " + key + " is required");
      return {};
    }
    const size_t before = p_.list().size();
    Secret s = Secret::FromYaml(spec_[key], ctx_.base_dir, p_, what_ + " " + key);
    if (s.empty() && p_.list().size() == before) {
      p_.Add(spec_[key], what_ + ": " + key + " must not be empty");
    }
    return s;
  }

  const YAML::Node& spec_;
  const ReceiverContext& ctx_;
  Problems& p_;
  const std::string what_;
  Millis timeout_ = net::kDefaultHttpTimeout;
  std::vector<std::string> to_;
};

}  // namespace

std::unique_ptr<Notifier> MakeSmsNotifier(const YAML::Node& spec, const ReceiverContext& ctx) {
  return SmsConfig(spec, ctx).Build();
}

}  // namespace linkwatch::notifiers
