#include "notifiers/message.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "agent/core/problem.h"
#include "agent/core/time_format.h"
#include "notifiers/notification.h"
#include "notifiers/registry.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {

using testutil::MakeAlert;

Notification Group() {
  Notification n;
  n.receiver = "oncall";
  n.group_key = "{}:{alertname=\"SyncStalled\", profile=\"crm\"}";
  n.group_labels = {{"alertname", "SyncStalled"}, {"profile", "crm"}};
  n.external_url = "http://127.0.0.1:9464/";
  const double t = *ParseDateTime("2026-01-01T00:21:00Z");
  Alert a = MakeAlert({{"alertname", "SyncStalled"}, {"profile", "crm"}, {"entity", "account"}},
                      AlertState::kFiring, t);
  a.annotations = {{"summary", "not synced for 21m"}, {"runbook", "https://wiki/<stalled>"}};
  Alert b = MakeAlert({{"alertname", "SyncStalled"}, {"profile", "crm"}, {"entity", "contact"}},
                      AlertState::kResolved, t, t + 60);
  b.annotations = {{"summary", "synced again"}};
  n.alerts = {a, b};
  return n;
}

const std::vector<MessageField> kFields = {
    {"title", kDefaultTitle}, {"text", kDefaultText}, {"html", kDefaultHtml, true}};

class MessageTest : public ::testing::Test {
 protected:
  MessageTemplates Load(const std::string& yaml) {
    YAML::Node spec = YAML::Load(yaml);
    ReceiverContext ctx{"oncall", "/tmp", problems_, SystemClock::Instance()};
    return MessageTemplates::FromYaml(spec, ctx, kFields);
  }
  Problems problems_{"config.yaml"};
};

TEST_F(MessageTest, DefaultsSayTheSameForEveryIntegration) {
  RenderedMessage m = MessageTemplates::Defaults(kFields).Render(Group());
  EXPECT_FALSE(m.template_error);
  EXPECT_EQ(m["title"], "[FIRING:1] SyncStalled crm");
  EXPECT_EQ(m["text"],
            "FIRING SyncStalled crm/account: not synced for 21m\n"
            "  alertname: SyncStalled\n"
            "  entity: account\n"
            "  profile: crm\n"
            "  runbook: https://wiki/<stalled>\n"
            "  summary: not synced for 21m\n"
            "  started: 2026-01-01T00:21:00Z\n"
            "  http://127.0.0.1:9464/#alert-" +
                Group().alerts[0].fingerprint +
                "\n"
                "RESOLVED SyncStalled crm/contact: synced again\n"
                "  alertname: SyncStalled\n"
                "  entity: contact\n"
                "  profile: crm\n"
                "  summary: synced again\n"
                "  started: 2026-01-01T00:21:00Z\n"
                "  ended: 2026-01-01T00:22:00Z\n"
                "  http://127.0.0.1:9464/#alert-" +
                Group().alerts[1].fingerprint + "\n");
  // HTML escapes values; the text does not.
  EXPECT_NE(m["html"].find("https://wiki/&lt;stalled&gt;"), std::string::npos) << m["html"];
  EXPECT_NE(m["html"].find("<h2>[FIRING:1] SyncStalled crm</h2>"), std::string::npos);
  RenderedMessage line = MessageTemplates::Defaults({{"text", kDefaultLine}}).Render(Group());
  EXPECT_EQ(line["text"],
            "FIRING SyncStalled crm/account: not synced for 21m\n"
            "RESOLVED SyncStalled crm/contact: synced again\n");
}

TEST_F(MessageTest, AReceiverOverridesAField) {
  MessageTemplates t = Load(
      "title: '{{statusUpper}} {{commonLabels.profile}} ({{firingCount}}/{{alertCount}})'\n"
      "text: '{{#firing}}{{target}} {{annotations.summary}}{{/firing}}"
      "{{#annotations.runbook}} see {{.}}{{/annotations.runbook}}'\n");
  ASSERT_TRUE(problems_.empty());
  RenderedMessage m = t.Render(Group());
  EXPECT_FALSE(m.template_error) << m.error;
  EXPECT_EQ(m["title"], "FIRING crm (1/2)");
  EXPECT_EQ(m["text"], "crm/account not synced for 21m");
  EXPECT_NE(m["html"].find("<h2>"), std::string::npos);  // default kept
}

TEST_F(MessageTest, ATemplateThatDoesNotParseIsAConfigProblem) {
  Load("title: 'x'\ntext: |\n  {{#alerts}}{{line}}\n");
  ASSERT_EQ(problems_.list().size(), 1u);
  const std::string p = problems_.list()[0].ToString();
  EXPECT_NE(p.find("config.yaml:2:"), std::string::npos) << p;
  EXPECT_NE(p.find("text template"), std::string::npos) << p;
}

TEST_F(MessageTest, ANameThatResolvesToNothingFallsBackToTheDefaultAndSaysSo) {
  MessageTemplates t = Load("title: '{{commonLabels.profil}} is down'\n");
  ASSERT_TRUE(problems_.empty());
  RenderedMessage m = t.Render(Group());
  EXPECT_TRUE(m.template_error);
  EXPECT_NE(m.error.find("{{commonLabels.profil}} names nothing"), std::string::npos) << m.error;
  EXPECT_EQ(m["title"], "[FIRING:1] SyncStalled crm");
}

TEST_F(MessageTest, TruncatedAlertsShowOnlyWhenSomeWereLeftOut) {
  Notification n = Group();
  EXPECT_EQ(MessageTemplates::Defaults(kFields).Render(n)["text"].find("more alerts"),
            std::string::npos);
  n.truncated_alerts = 3;
  EXPECT_NE(MessageTemplates::Defaults(kFields).Render(n)["text"].find("and 3 more alerts"),
            std::string::npos);
}

}  // namespace
}  // namespace linkwatch::notifiers
