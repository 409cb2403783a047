// The teams integration against a scripted loopback receiver: the card of
// each format, the colors, how each Teams answer is treated, truncation to
// 28 KiB, message templates and config problems.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "tests/fakes/http_receiver.h"
#include "tests/notifiers/teams_fixture.h"

namespace linkwatch::notifiers {
namespace {

using fakes::HttpReceiver;
using nlohmann::json;

constexpr size_t kTeamsLimit = 28 * 1024;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

class TeamsTest : public testutil::TeamsFixture {
 protected:
  std::shared_ptr<Notifier> Teams(const std::string& more_keys = "") {
    return Build("      url: " + server_.Url("/workflow") + "\n" + more_keys);
  }

  // Sends `n` and returns the body the receiver got.
  std::string SendAndGetBody(Notifier& teams, const Notification& n) {
    const size_t before = server_.Count();
    last_ = teams.Send(n);
    EXPECT_TRUE(last_.ok()) << last_.reason << " " << last_.detail;
    EXPECT_EQ(server_.Count(), before + 1);
    return server_.Requests().back().body;
  }

  // The AdaptiveCard inside the Teams message envelope.
  static json Content(const std::string& body) {
    json j = json::parse(body);
    return j["attachments"][0]["content"];
  }

  HttpReceiver server_;
  SendResult last_;
};

TEST_F(TeamsTest, AdaptiveCardIsTheSpecEnvelope) {
  auto teams = Teams();
  ASSERT_NE(teams, nullptr);
  EXPECT_EQ(teams->integration(), "teams");
  const std::string body = SendAndGetBody(*teams, Group(2));
  const auto req = server_.Requests().back();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/workflow");
  EXPECT_EQ(req.Header("Content-Type"), "application/json");

  const json j = json::parse(body);
  EXPECT_EQ(j["type"], "message");
  ASSERT_EQ(j["attachments"].size(), 1u);
  EXPECT_EQ(j["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
  ASSERT_TRUE(j["attachments"][0].contains("contentUrl"));
  EXPECT_TRUE(j["attachments"][0]["contentUrl"].is_null());
  EXPECT_EQ(j["attachments"][0].size(), 3u);

  const json card = Content(body);
  EXPECT_EQ(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
  EXPECT_EQ(card["type"], "AdaptiveCard");
  EXPECT_EQ(card["version"], "1.4");
  EXPECT_EQ(card["msteams"], json({{"width", "full"}}));
  const json& items = card["body"];
  ASSERT_EQ(items.size(), 3u) << items.dump(2);
  EXPECT_EQ(items[0], json({{"type", "TextBlock"},
                            {"text", "[FIRING:2] SyncStalled crm"},
                            {"weight", "Bolder"},
                            {"size", "Medium"},
                            {"wrap", true},
                            {"style", "heading"},
                            {"color", "Attention"}}));
  EXPECT_EQ(items[1]["type"], "TextBlock");
  EXPECT_EQ(items[1]["wrap"], true);
  const std::string text = items[1]["text"];
  EXPECT_NE(text.find("FIRING SyncStalled crm/t0: t0 not synced for 21m\n\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("FIRING SyncStalled crm/t1: t1 not synced for 21m"), std::string::npos);
  EXPECT_NE(text.find("http://127.0.0.1:9464/#alert-"), std::string::npos);
  EXPECT_EQ(text.find("more alerts"), std::string::npos);
  // The common labels, not the entity each alert has its own of.
  EXPECT_EQ(items[2], json({{"type", "FactSet"},
                            {"facts",
                             {{{"title", "alertname"}, {"value", "SyncStalled"}},
                              {{"title", "profile"}, {"value", "crm"}},
                              {{"title", "severity"}, {"value", "warning"}}}}}));
  EXPECT_EQ(card["actions"], json::parse(R"([{"type": "Action.OpenUrl", "title": "Open linkwatch",
                                                "url": "http://127.0.0.1:9464/"}])"));
}

TEST_F(TeamsTest, ResolvedIsGoodAndFiringIsAttention) {
  auto teams = Teams();
  ASSERT_NE(teams, nullptr);
  json heading = Content(SendAndGetBody(*teams, Group(1, AlertState::kResolved)))["body"][0];
  EXPECT_EQ(heading["color"], "Good");
  EXPECT_EQ(heading["text"], "[RESOLVED] SyncStalled crm");
  // One alert still firing makes the group firing.
  Notification mixed = Group(2, AlertState::kResolved);
  mixed.alerts[1].state = AlertState::kFiring;
  heading = Content(SendAndGetBody(*teams, mixed))["body"][0];
  EXPECT_EQ(heading["color"], "Attention");
  EXPECT_EQ(heading["text"], "[FIRING:1] SyncStalled crm");
}

TEST_F(TeamsTest, NoExternalUrlMeansNoAction) {
  auto adaptive = Teams();
  auto legacy = Teams("      format: messagecard\n");
  ASSERT_NE(adaptive, nullptr);
  ASSERT_NE(legacy, nullptr);
  Notification n = Group(1);
  n.external_url.clear();
  EXPECT_FALSE(Content(SendAndGetBody(*adaptive, n)).contains("actions"));
  EXPECT_FALSE(json::parse(SendAndGetBody(*legacy, n)).contains("potentialAction"));
}

TEST_F(TeamsTest, MessageCardIsTheLegacyConnectorCard) {
  auto teams = Teams("      format: messagecard\n");
  ASSERT_NE(teams, nullptr);
  json card = json::parse(SendAndGetBody(*teams, Group(2)));
  EXPECT_EQ(card["@type"], "MessageCard");
  EXPECT_EQ(card["@context"], "http://schema.org/extensions");
  EXPECT_EQ(card["themeColor"], "8C1A1A");
  EXPECT_EQ(card["summary"], "[FIRING:2] SyncStalled crm");
  EXPECT_EQ(card["title"], "[FIRING:2] SyncStalled crm");
  const std::string text = card["text"];
  EXPECT_NE(text.find("FIRING SyncStalled crm/t1: t1 not synced for 21m"), std::string::npos);
  ASSERT_EQ(card["sections"].size(), 1u);
  EXPECT_EQ(card["sections"][0]["facts"][1], json({{"name", "profile"}, {"value", "crm"}}));
  EXPECT_EQ(card["potentialAction"], json::parse(R"([{"@type": "OpenUri", "name": "Open linkwatch",
      "targets": [{"os": "default", "uri": "http://127.0.0.1:9464/"}]}])"));

  card = json::parse(SendAndGetBody(*teams, Group(1, AlertState::kResolved)));
  EXPECT_EQ(card["themeColor"], "2DC72D");
  EXPECT_EQ(card["title"], "[RESOLVED] SyncStalled crm");
}

TEST_F(TeamsTest, ClassifiesTeamsAnswers) {
  server_.Push(202);           // Workflows
  server_.Push(200, {}, "1");  // legacy connector
  server_.Push(200, {{"Retry-After", "2"}},
               "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
               "HTTP error 429 with ContextId ...");
  server_.Push(413, {}, "payload too large");
  server_.Push(502, {}, "bad gateway");
  server_.Push(429, {{"Retry-After", "7"}});
  server_.Push(400, {}, "Bad payload");
  server_.Push(403);
  auto teams = Teams();
  ASSERT_NE(teams, nullptr);
  const Notification n = Group(1);

  EXPECT_TRUE(teams->Send(n).ok());
  EXPECT_TRUE(teams->Send(n).ok());

  SendResult r = teams->Send(n);
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "rateLimited");
  EXPECT_EQ(r.retry_after, Millis(2000));
  EXPECT_NE(r.detail.find("HTTP error 429"), std::string::npos) << r.detail;

  r = teams->Send(n);
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "clientError");
  EXPECT_NE(r.detail.find("too large"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("HTTP 413"), std::string::npos) << r.detail;

  r = teams->Send(n);
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "serverError");

  r = teams->Send(n);
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "rateLimited");
  EXPECT_EQ(r.retry_after, Millis(7000));

  r = teams->Send(n);
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "clientError");

  r = teams->Send(n);
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "authError");
  EXPECT_EQ(r.detail, "HTTP 403");  // never the URL: it is a secret
}

TEST_F(TeamsTest, DefaultRateLimitIsFourPerSecondWithoutBurst) {
  auto rs = Parse("      url: http://127.0.0.1:1/x\n");
  ASSERT_EQ(rs.size(), 1u);
  ASSERT_TRUE(rs[0].rate_limit.has_value());
  EXPECT_EQ(rs[0].rate_limit->per_second, 4);
  EXPECT_EQ(rs[0].rate_limit->burst, 1);
}

// The alerts the text names, by entity, in order.
std::vector<std::string> NamedEntities(const std::string& text) {
  std::vector<std::string> out;
  static const std::regex kLine("FIRING SyncStalled crm/(t[0-9]+):");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kLine);
       it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

void ExpectFirstAlertsAndCount(const std::string& text, size_t total, const std::string& body) {
  const auto named = NamedEntities(text);
  ASSERT_GT(named.size(), 10u) << "too few alerts kept";
  ASSERT_LT(named.size(), total);
  for (size_t i = 0; i < named.size(); ++i) EXPECT_EQ(named[i], "t" + std::to_string(i));
  const std::string more = "and " + std::to_string(total - named.size()) + " more alerts";
  EXPECT_EQ(Count(body, more), 1u) << more;
  EXPECT_EQ(Count(body, "more alerts"), 1u);
}

TEST_F(TeamsTest, FiveHundredAlertsAreCutToFitWithTheRightCount) {
  auto teams = Teams();
  ASSERT_NE(teams, nullptr);
  Notification n = Group(500);
  const std::string body = SendAndGetBody(*teams, n);
  EXPECT_LT(body.size(), kTeamsLimit);
  const json card = Content(body);
  EXPECT_EQ(card["body"][0]["text"], "[FIRING:500] SyncStalled crm");
  ExpectFirstAlertsAndCount(card["body"][1]["text"], 500, body);
  // Cut alert by alert: one more alert would not have fitted.
  const size_t kept = NamedEntities(card["body"][1]["text"]).size();
  const size_t per_alert = card["body"][1]["text"].get<std::string>().size() / kept;
  EXPECT_GT(body.size() + 2 * per_alert, kTeamsLimit) << body.size();
  // The facts describe the whole group; the card ends with the note.
  EXPECT_EQ(card["body"][2]["type"], "FactSet");
  ASSERT_EQ(card["body"].size(), 4u);
  EXPECT_EQ(card["body"][3]["text"], "and " + std::to_string(500 - kept) + " more alerts");
}

TEST_F(TeamsTest, AlertsTheCreatorLeftOutCountToo) {
  auto legacy = Teams("      format: messagecard\n");
  ASSERT_NE(legacy, nullptr);
  Notification n = Group(500);
  n.truncated_alerts = 7;
  const std::string body = SendAndGetBody(*legacy, n);
  EXPECT_LT(body.size(), kTeamsLimit);
  const json card = json::parse(body);
  ExpectFirstAlertsAndCount(card["text"], 507, body);
  const size_t kept = NamedEntities(card["text"]).size();
  EXPECT_EQ(card["sections"].back(),
            json({{"text", "and " + std::to_string(507 - kept) + " more alerts"}}));

  // A card that fits still counts them.
  n = Group(2);
  n.truncated_alerts = 7;
  const json small = json::parse(SendAndGetBody(*legacy, n));
  EXPECT_EQ(small["sections"].back(), json({{"text", "and 7 more alerts"}}));
  EXPECT_EQ(small["text"].get<std::string>().find("more alerts"), std::string::npos);
}

TEST_F(TeamsTest, ACustomTextWithoutTheCountGetsTheNote) {
  auto teams = Teams("      text: \"{{#alerts}}{{line}}\\n{{/alerts}}\"\n");
  ASSERT_NE(teams, nullptr);
  Notification n = Group(500);
  for (auto& a : n.alerts) a.annotations["summary"] += std::string(200, '.');
  const std::string body = SendAndGetBody(*teams, n);
  EXPECT_LT(body.size(), kTeamsLimit);
  const json card = Content(body);
  const json& last = card["body"].back();
  ASSERT_EQ(last["type"], "TextBlock");
  const size_t kept = NamedEntities(card["body"][1]["text"]).size();
  EXPECT_EQ(last["text"], "and " + std::to_string(500 - kept) + " more alerts");
  ExpectFirstAlertsAndCount(card["body"][1]["text"], 500, body);
}

TEST_F(TeamsTest, CustomTitleTemplate) {
  auto teams = Teams(
      "      title: \"{{statusUpper}}: {{commonLabels.alertname}} in "
      "{{commonLabels.profile}}\"\n      format: messagecard\n");
  ASSERT_NE(teams, nullptr);
  const json card = json::parse(SendAndGetBody(*teams, Group(2)));
  EXPECT_EQ(card["title"], "FIRING: SyncStalled in crm");
  EXPECT_EQ(card["summary"], "FIRING: SyncStalled in crm");
  EXPECT_TRUE(last_.template_error.empty());
}

TEST_F(TeamsTest, TemplateErrorFallsBackAndIsReported) {
  auto teams = Teams("      title: \"{{commonLabels.profil}} down\"\n");
  ASSERT_NE(teams, nullptr);
  const json card = Content(SendAndGetBody(*teams, Group(1)));
  EXPECT_EQ(card["body"][0]["text"], "[FIRING:1] SyncStalled crm");
  EXPECT_NE(last_.template_error.find("commonLabels.profil"), std::string::npos)
      << last_.template_error;
}

TEST_F(TeamsTest, ConfigProblemsNameTheirPlace) {
  auto rs = Parse("      format: adaptive\n");  // no url
  EXPECT_TRUE(rs.empty() || rs[0].notifier == nullptr);
  ASSERT_EQ(problems_.list().size(), 1u);
  EXPECT_EQ(problems_.list()[0].ToString(),
            "config.yaml:4:7: receiver \"oncall\" teams: url is required");

  problems_ = Problems("config.yaml");
  rs = Parse("      url: https://example.com/hook\n      format: cards\n      timeout: 0s\n");
  EXPECT_TRUE(rs.empty() || rs[0].notifier == nullptr);
  ASSERT_EQ(problems_.list().size(), 2u);
  EXPECT_EQ(problems_.list()[0].ToString(),
            "config.yaml:5:15: receiver \"oncall\" teams: format must be adaptive or "
            "messagecard, not \"cards\"");
  EXPECT_EQ(problems_.list()[1].ToString(),
            "config.yaml:6:16: receiver \"oncall\" teams: timeout must be above 0");

  problems_ = Problems("config.yaml");
  rs = Parse("      url: ftp://token-1234@example.com/\n      colour: red\n");
  std::string all;
  for (const auto& p : problems_.list()) all += p.ToString() + "\n";
  EXPECT_EQ(problems_.list().size(), 2u) << all;
  EXPECT_NE(all.find("config.yaml:5:7: "), std::string::npos) << all;  // unknown key colour
  EXPECT_NE(all.find("config.yaml:4:12: receiver \"oncall\" teams: url must start with http://"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("token-1234"), std::string::npos) << all;

  problems_ = Problems("config.yaml");
  rs = Parse("      url: https://example.com/hook\n      text: \"{{#alerts}}\"\n");
  ASSERT_EQ(problems_.list().size(), 1u);
  EXPECT_EQ(problems_.list()[0].ToString().rfind("config.yaml:5:13: ", 0), 0u)
      << problems_.list()[0].ToString();
}

}  // namespace
}  // namespace linkwatch::notifiers
