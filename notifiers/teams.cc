// teams: posts a Microsoft Teams card (notifications.md, "teams").
// Keys: url (secret, http/https), format (adaptive, the default, for a Teams
// Workflows "When a Teams webhook request is received" flow | messagecard for
// a legacy Office 365 connector), title and text (message templates,
// message.h), timeout (default 10s).
//
// A card shows the title (red when firing, green when resolved), the text
// (per alert its line, labels, start and link by default), the group's common
// labels as facts and a link to linkwatch's external URL. A body over 28 KiB
// (Teams' limit) keeps as many leading alerts as fit and says "and N more
// alerts". Answers: 200 and 202 are delivered (legacy connectors answer 200
// with body "1"); a 200 whose body says "HTTP error 429" is Teams
// throttling (retry, rateLimited); 413 is a card Teams will never take
// (permanent clientError); anything else as ClassifyHttpResponse says.
//
// Like every Notifier, called from its receiver's outbox worker only.
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/core/problem.h"
#include "agent/core/secret.h"
#include "agent/core/yaml_util.h"
#include "agent/net/http_client.h"
#include "notifiers/http_answer.h"
#include "notifiers/message.h"
#include "notifiers/registry.h"

namespace linkwatch::notifiers {
namespace {

using nlohmann::json;

// Teams refuses a message over about 28 KB; the whole request body stays
// strictly below 28 KiB.
constexpr size_t kMaxBodyBytes = 28 * 1024;

enum class TeamsFormat { kAdaptive, kMessageCard };

std::vector<MessageField> TeamsFields() {
  return {{"title", kDefaultTitle}, {"text", kDefaultText}};
}

// What a card shows, in either format.
struct CardContent {
  bool firing = true;
  std::string title;
  std::string text;  // markdown: one paragraph per line
  LabelSet facts;    // the group's common labels
  int more_alerts = 0;
  std::string url;  // linkwatch's external URL; no link when empty
};

std::string MoreAlertsText(int n) { return "and " + std::to_string(n) + " more alerts"; }

// The text as Teams shows it: Teams' markdown joins single line breaks, so
// a blank line between lines keeps each on its own line (Teams "Format
// cards": \n\n in a TextBlock). A line "and N more alerts" (the default
// text ends with one) is left out: the card ends with that note, after the
// facts, whatever the template.
std::string Paragraphs(const std::string& text, int more_alerts) {
  const std::string note = MoreAlertsText(more_alerts);
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (more_alerts > 0 && line == note) continue;
    if (!out.empty()) out += "\n\n";
    out += line;
  }
  return out;
}

json TextBlock(const std::string& text) {
  return {{"type", "TextBlock"}, {"text", text}, {"wrap", true}};
}

json AdaptiveCard(const CardContent& c) {
  json heading = TextBlock(c.title);
  heading["weight"] = "Bolder";
  heading["size"] = "Medium";
  heading["style"] = "heading";
  heading["color"] = c.firing ? "Attention" : "Good";
  json body = json::array({heading});
  if (!c.text.empty()) body.push_back(TextBlock(c.text));
  if (!c.facts.empty()) {
    json facts = json::array();
    for (const auto& [name, value] : c.facts) facts.push_back({{"title", name}, {"value", value}});
    body.push_back({{"type", "FactSet"}, {"facts", std::move(facts)}});
  }
  if (c.more_alerts > 0) body.push_back(TextBlock(MoreAlertsText(c.more_alerts)));
  json card = {{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
               {"type", "AdaptiveCard"},
               {"version", "1.4"},
               {"body", std::move(body)}};
  if (!c.url.empty()) {
    card["actions"] =
        json::array({{{"type", "Action.OpenUrl"}, {"title", "Open linkwatch"}, {"url", c.url}}});
  }
  card["msteams"] = {{"width", "full"}};
  return {{"type", "message"},
          {"attachments", json::array({{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                        {"contentUrl", nullptr},
                                        {"content", std::move(card)}}})}};
}

json MessageCard(const CardContent& c) {
  json card = {{"@type", "MessageCard"},
               {"@context", "http://schema.org/extensions"},
               {"themeColor", c.firing ? "8C1A1A" : "2DC72D"},
               {"summary", c.title},
               {"title", c.title}};
  if (!c.text.empty()) card["text"] = c.text;
  json sections = json::array();
  if (!c.facts.empty()) {
    json facts = json::array();
    for (const auto& [name, value] : c.facts) facts.push_back({{"name", name}, {"value", value}});
    sections.push_back({{"facts", std::move(facts)}});
  }
  if (c.more_alerts > 0) sections.push_back({{"text", MoreAlertsText(c.more_alerts)}});
  if (!sections.empty()) card["sections"] = std::move(sections);
  if (!c.url.empty()) {
    card["potentialAction"] =
        json::array({{{"@type", "OpenUri"},
                      {"name", "Open linkwatch"},
                      {"targets", json::array({{{"os", "default"}, {"uri", c.url}}})}}});
  }
  return card;
}

// Teams' answers that ClassifyHttpResponse cannot know.
SendResult ClassifyTeamsAnswer(const net::OutboundResponse& r, size_t body_bytes,
                               const Clock& clock) {
  if (r.answered() && r.status == 200 && r.body.find("HTTP error 429") != std::string::npos) {
    std::optional<Millis> retry_after;
    if (auto h = r.Header("Retry-After")) retry_after = net::ParseRetryAfter(*h, clock.Now());
    return SendResult::Retry("rateLimited", "Teams throttled the request: " + DescribeHttpAnswer(r),
                             retry_after);
  }
  if (r.answered() && r.status == 413) {
    return SendResult::Permanent("clientError", "the card is too large for Teams (" +
                                                    std::to_string(body_bytes) +
                                                    " bytes): " + DescribeHttpAnswer(r));
  }
  return ClassifyHttpResponse(r, clock);
}

// The request body and any template failure behind it.
struct Payload {
  std::string body;
  std::string template_error;
};

class TeamsNotifier final : public Notifier {
 public:
  TeamsNotifier(Secret url, TeamsFormat format, MessageTemplates templates, Millis timeout,
                const Clock& clock)
      : url_(std::move(url)),
        format_(format),
        templates_(std::move(templates)),
        timeout_(timeout),
        clock_(clock) {}

  const std::string& integration() const override {
    static const std::string kName = "teams";
    return kName;
  }

  // Teams allows 4 requests per second per webhook and answers more with a
  // throttling error; a burst of 1 never sends more than that in a second
  // (a saved-up burst would, right after a quiet spell).
  std::optional<RateLimit> DefaultRateLimit() const override { return RateLimit{4, 1}; }

  SendResult Send(const Notification& n) override {
    const Payload payload = Build(n);
    net::OutboundRequest req;
    req.url = url_.Reveal();
    req.body = payload.body;
    req.timeout = timeout_;
    req.headers.emplace_back("Content-Type", "application/json");
    SendResult result = ClassifyTeamsAnswer(client_.Send(req), req.body.size(), clock_);
    result.template_error = payload.template_error;
    return result;
  }

 private:
  std::string Serialize(const CardContent& c) const {
    const json card = format_ == TeamsFormat::kAdaptive ? AdaptiveCard(c) : MessageCard(c);
    return card.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  // The card with only the first `keep` alerts in its text.
  Payload BuildKeeping(const Notification& n, CardContent content, size_t keep) const {
    Notification part = n;
    part.alerts.resize(keep);
    part.truncated_alerts = n.truncated_alerts + static_cast<int>(n.alerts.size() - keep);
    const RenderedMessage text = templates_.Render(part);
    content.text = Paragraphs(text["text"], part.truncated_alerts);
    content.more_alerts = part.truncated_alerts;
    return {Serialize(content), text.template_error ? text.error : ""};
  }

  // The whole card when it fits; else cut alert by alert: the most leading
  // alerts whose card fits (binary search: the card grows with each alert).
  // The title and facts describe the whole group either way.
  Payload Build(const Notification& n) const {
    const RenderedMessage whole = templates_.Render(n);
    CardContent content{
        n.Firing(),       whole["title"],     Paragraphs(whole["text"], n.truncated_alerts),
        n.CommonLabels(), n.truncated_alerts, n.external_url};
    Payload best{Serialize(content), whole.template_error ? whole.error : ""};
    if (best.body.size() < kMaxBodyBytes || n.alerts.empty()) return best;
    // A card without any alert text is the floor even if it is still too large
    // (a huge title): Teams' 413 then says so.
    best = BuildKeeping(n, content, 0);
    size_t lo = 0, hi = n.alerts.size() - 1;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo + 1) / 2;
      Payload p = BuildKeeping(n, content, mid);
      if (p.body.size() < kMaxBodyBytes) {
        lo = mid;
        best = std::move(p);
      } else {
        hi = mid - 1;
      }
    }
    if (whole.template_error && best.template_error.empty()) best.template_error = whole.error;
    return best;
  }

  Secret url_;
  TeamsFormat format_;
  MessageTemplates templates_;
  Millis timeout_;
  const Clock& clock_;
  net::HttpClient client_;
};

std::optional<TeamsFormat> ParseFormat(const YAML::Node& spec, const ReceiverContext& ctx,
                                       const std::string& what) {
  if (!spec["format"]) return TeamsFormat::kAdaptive;
  auto value = GetString(spec["format"], ctx.problems, what + " format");
  if (!value) return std::nullopt;
  if (*value == "adaptive") return TeamsFormat::kAdaptive;
  if (*value == "messagecard") return TeamsFormat::kMessageCard;
  ctx.problems.Add(spec["format"],
                   what + ": format must be adaptive or messagecard, not \"" + *value + "\"");
  return std::nullopt;
}

}  // namespace

std::unique_ptr<Notifier> MakeTeamsNotifier(const YAML::Node& spec, const ReceiverContext& ctx) {
  Problems& p = ctx.problems;
  const std::string what = ctx.What("teams");
  if (!spec.IsMap()) {
    p.Add(spec, what + " must be a mapping with at least url");
    return nullptr;
  }
  const size_t before = p.list().size();
  std::vector<std::string> keys{"url", "format", "timeout"};
  for (auto& k : MessageTemplates::FieldKeys(TeamsFields())) keys.push_back(std::move(k));
  ctx.CheckKeys(spec, keys);
  Secret url = ctx.HttpUrl(spec, "teams");
  const auto format = ParseFormat(spec, ctx, what);
  MessageTemplates templates = MessageTemplates::FromYaml(spec, ctx, TeamsFields());
  const Millis timeout = ctx.PositiveDuration(spec, "timeout", "teams", net::kDefaultHttpTimeout);
  if (p.list().size() != before || !format) return nullptr;
  return std::make_unique<TeamsNotifier>(std::move(url), *format, std::move(templates), timeout,
                                         ctx.clock);
}

}  // namespace linkwatch::notifiers
