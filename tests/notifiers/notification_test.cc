#include "notifiers/notification.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {

using testutil::MakeAlert;

double At(const char* iso) { return *ParseDateTime(iso); }

Notification Sample() {
  Notification n;
  n.receiver = "hooks";
  n.group_labels = {{"alertname", "SyncStalled"}, {"profile", "crm"}};
  n.group_key = "{}:" + FormatLabelSet(n.group_labels);
  n.external_url = "http://127.0.0.1:9464/";
  n.created_at = At("2026-01-01T00:22:00Z");
  Alert firing = MakeAlert({{"alertname", "SyncStalled"},
                            {"entity", "account"},
                            {"profile", "crm"},
                            {"severity", "critical"},
                            {"source", "local"}},
                           AlertState::kFiring, At("2026-01-01T00:21:00Z"));
  firing.annotations = {{"summary", "account in crm has not synced for 21m"}};
  firing.value = "1";
  Alert resolved =
      MakeAlert({{"alertname", "SyncStalled"},
                 {"entity", "contact"},
                 {"profile", "crm"},
                 {"severity", "critical"},
                 {"source", "local"}},
                AlertState::kResolved, At("2026-01-01T00:05:00Z"), At("2026-01-01T00:20:30.250Z"));
  resolved.annotations = {{"summary", "contact in crm has not synced for 16m"}};
  n.alerts = {firing, resolved};
  return n;
}

TEST(NotificationTest, WebhookBodyMatchesGolden) {
  const Notification n = Sample();
  const char* golden = R"({
    "version": "4",
    "groupKey": "{}:{alertname=\"SyncStalled\", profile=\"crm\"}",
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "hooks",
    "groupLabels": {"alertname": "SyncStalled", "profile": "crm"},
    "commonLabels": {"alertname": "SyncStalled", "profile": "crm", "severity": "critical",
                     "source": "local"},
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:9464/",
    "alerts": [
      {"status": "firing",
       "labels": {"alertname": "SyncStalled", "entity": "account", "profile": "crm",
                  "severity": "critical", "source": "local"},
       "annotations": {"summary": "account in crm has not synced for 21m"},
       "startsAt": "2026-01-01T00:21:00Z", "endsAt": "0001-01-01T00:00:00Z",
       "generatorURL": "", "fingerprint": ""},
      {"status": "resolved",
       "labels": {"alertname": "SyncStalled", "entity": "contact", "profile": "crm",
                  "severity": "critical", "source": "local"},
       "annotations": {"summary": "contact in crm has not synced for 16m"},
       "startsAt": "2026-01-01T00:05:00Z", "endsAt": "2026-01-01T00:20:30.250Z",
       "generatorURL": "", "fingerprint": ""}
    ]})";
  nlohmann::json expected = nlohmann::json::parse(golden);
  // Fingerprints are computed from the labels (checked below); fill them in.
  for (size_t i = 0; i < 2; ++i) {
    expected["alerts"][i]["fingerprint"] = n.alerts[i].fingerprint;
    expected["alerts"][i]["generatorURL"] =
        "http://127.0.0.1:9464/#alert-" + n.alerts[i].fingerprint;
  }
  EXPECT_EQ(WebhookBody(n), expected) << WebhookBody(n).dump(2);
  EXPECT_EQ(n.alerts[0].fingerprint, LabelFingerprint(n.alerts[0].labels));
  EXPECT_EQ(n.alerts[0].fingerprint.size(), 16u);
}

TEST(NotificationTest, StatusIsResolvedOnlyWhenNothingFires) {
  Notification n = Sample();
  EXPECT_TRUE(n.Firing());
  EXPECT_STREQ(n.StatusText(), "firing");
  EXPECT_EQ(n.Title(), "[FIRING:1] SyncStalled crm");
  n.alerts.erase(n.alerts.begin());
  EXPECT_FALSE(n.Firing());
  EXPECT_EQ(WebhookBody(n)["status"], "resolved");
  EXPECT_EQ(n.Title(), "[RESOLVED] SyncStalled crm");
}

TEST(NotificationTest, MaxAlertsTruncatesAndCounts) {
  Notification n = Sample();
  n.truncated_alerts = 2;  // already left out by the creator
  auto body = WebhookBody(n, 1);
  ASSERT_EQ(body["alerts"].size(), 1u);
  EXPECT_EQ(body["alerts"][0]["labels"]["entity"], "account");
  EXPECT_EQ(body["truncatedAlerts"], 3);
  EXPECT_EQ(WebhookBody(n, 0)["alerts"].size(), 2u);
  EXPECT_EQ(WebhookBody(n, 5)["truncatedAlerts"], 2);
}

TEST(NotificationTest, CommonAnnotationsKeepOnlySharedValues) {
  Notification n = Sample();
  n.alerts[1].annotations["summary"] = n.alerts[0].annotations["summary"];
  n.alerts[1].annotations["runbook"] = "x";
  EXPECT_EQ(n.CommonAnnotations(), (LabelSet{{"summary", n.alerts[0].annotations["summary"]}}));
}

TEST(NotificationTest, PayloadRoundTripsEveryField) {
  Notification n = Sample();
  n.truncated_alerts = 4;
  n.alerts[0].last_true_at = 1767226860.125;
  n.alerts[0].active_at = 1767226000.5;
  auto back = FromPayload(ToPayload(n));
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->receiver, n.receiver);
  EXPECT_EQ(back->group_key, n.group_key);
  EXPECT_EQ(back->group_labels, n.group_labels);
  EXPECT_EQ(back->created_at, n.created_at);
  EXPECT_EQ(back->external_url, n.external_url);
  EXPECT_EQ(back->truncated_alerts, 4);
  ASSERT_EQ(back->alerts.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Alert& a = n.alerts[i];
    const Alert& b = back->alerts[i];
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_EQ(a.annotations, b.annotations);
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(a.active_at, b.active_at);
    EXPECT_EQ(a.starts_at, b.starts_at);
    EXPECT_EQ(a.ends_at, b.ends_at);
    EXPECT_EQ(a.last_true_at, b.last_true_at);
    EXPECT_EQ(a.value, b.value);
    EXPECT_EQ(a.fingerprint, b.fingerprint);
  }
  EXPECT_EQ(WebhookBody(*back), WebhookBody(n));
}

TEST(NotificationTest, MalformedPayloadIsAnError) {
  EXPECT_FALSE(FromPayload("not json").ok());
  EXPECT_FALSE(FromPayload("{\"receiver\": 1}").ok());
}

TEST(NotificationTest, FormatLabelSetQuotesLikeAlertmanager) {
  EXPECT_EQ(FormatLabelSet({}), "{}");
  EXPECT_EQ(FormatLabelSet({{"b", "x\"y"}, {"a", "1"}}), "{a=\"1\", b=\"x\\\"y\"}");
}

}  // namespace
}  // namespace linkwatch::notifiers
