#include "agent/http/api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "agent/http/server.h"
#include "exporters/exposition.h"
#include "exporters/state_collector.h"
#include "tests/http/snapshot_builder.h"
#include "tests/http/test_client.h"

namespace linkwatch::http {
namespace {

using ::testing::HasSubstr;
using testing::Request;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto snap = std::make_shared<state::Snapshot>();
    linkwatch::testing::AddRow(*snap, state::TableId::kProfile,
                               {{"synapselinkprofileid", linkwatch::testing::Str("p-1")},
                                {"name", linkwatch::testing::Str("crm")},
                                {"profilestate", linkwatch::testing::Num(1)}});
    linkwatch::testing::AddRow(*snap, state::TableId::kEntityState,
                               {{"entityname", linkwatch::testing::Str("account")},
                                {"profile", linkwatch::testing::Str("p-1")},
                                {"syncstate", linkwatch::testing::Num(2)},
                                {"lastsynceddatatime", linkwatch::testing::Num(1767225600)}});
    collector_.Publish("local", snap);

    ApiSources sources;
    sources.alerts = [this] { return alerts_; };
    sources.status = [] { return nlohmann::json{{"sources", {{{"name", "local"}}}}}; };
    sources.notifications = [this](const std::string& state) {
      if (state == "dead") throw std::runtime_error("outbox unreadable");
      last_state_ = state;
      return nlohmann::json::array({{{"receiver", "hooks"}, {"attempts", 2}}});
    };
    sources.ready = [this] { return ready_.load(); };
    sources.metrics = [this] { return SerializeMetrics({&collector_}); };
    AddApiRoutes(server_, std::move(sources));
    ASSERT_TRUE(server_.Start().ok());
    port_ = server_.port();
  }

  HttpServer server_{"127.0.0.1:0"};
  int port_ = 0;
  StateCollector collector_;
  std::vector<Alert> alerts_;
  std::atomic<bool> ready_{false};
  std::string last_state_;
};

TEST_F(ApiTest, HealthzAndReadyz) {
  auto h = Request(port_, "GET", "/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "ok");
  auto r = Request(port_, "GET", "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "not ready");
  ready_ = true;
  r = Request(port_, "GET", "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
}

TEST_F(ApiTest, MetricsHasTextFormatContentTypeAndTheSnapshotsSeries) {
  auto r = Request(port_, "GET", "/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r->body, HasSubstr("linkwatch_entity_last_synced_timestamp_seconds{source=\"local\","
                                 "profile=\"crm\",entity=\"account\"} 1767225600\n"));
  EXPECT_THAT(r->body, HasSubstr("linkwatch_entity_sync_state{source=\"local\",profile=\"crm\","
                                 "entity=\"account\",state=\"InProgress\"} 1\n"));
  EXPECT_THAT(
      r->body,
      HasSubstr("linkwatch_profile_state{source=\"local\",profile=\"crm\",state=\"Active\"} 1\n"));
}

TEST_F(ApiTest, AlertsAreAJsonArrayWithPrometheusFieldNames) {
  Alert firing;
  firing.labels = {{"alertname", "SyncStalled"},
                   {"source", "local"},
                   {"profile", "crm"},
                   {"entity", "account"},
                   {"severity", "critical"}};
  firing.annotations = {{"summary", "account in crm has not synced for 21m"}};
  firing.state = AlertState::kFiring;
  firing.active_at = 1767225600 + 16 * 60;  // 2026-01-01T00:16:00Z
  firing.starts_at = 1767225600 + 21 * 60;
  firing.value = "21m";
  firing.fingerprint = LabelFingerprint(firing.labels);
  Alert pending;
  pending.labels = {{"alertname", "CountDrift"}, {"severity", "warning"}};
  pending.state = AlertState::kPending;
  pending.active_at = 1767225600.5;
  pending.value = "150";
  alerts_ = {firing, pending};

  auto r = Request(port_, "GET", "/api/v1/alerts");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("Content-Type"), "application/json");
  const auto expected = nlohmann::json::parse(R"([
    {"labels": {"alertname": "SyncStalled", "entity": "account", "profile": "crm",
                "severity": "critical", "source": "local"},
     "annotations": {"summary": "account in crm has not synced for 21m"},
     "state": "firing", "activeAt": "2026-01-01T00:16:00Z", "startsAt": "2026-01-01T00:21:00Z",
     "endsAt": null, "fingerprint": ")" + firing.fingerprint +
                                              R"(", "value": "21m"},
    {"labels": {"alertname": "CountDrift", "severity": "warning"}, "annotations": {},
     "state": "pending", "activeAt": "2026-01-01T00:00:00.500Z", "startsAt": null,
     "endsAt": null, "fingerprint": ")" + LabelFingerprint(pending.labels) +
                                              R"(", "value": "150"}
  ])");
  EXPECT_EQ(nlohmann::json::parse(r->body), expected) << r->body;

  alerts_.clear();
  r = Request(port_, "GET", "/api/v1/alerts");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "[]");
}

TEST_F(ApiTest, StatusIsTheProvidersJson) {
  auto r = Request(port_, "GET", "/api/v1/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body),
            nlohmann::json::parse(R"({"sources":[{"name":"local"}]})"));
}

TEST_F(ApiTest, NotificationsTakePendingOrDeadOnly) {
  auto r = Request(port_, "GET", "/api/v1/notifications?state=pending");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(last_state_, "pending");
  EXPECT_EQ(nlohmann::json::parse(r->body)[0]["receiver"], "hooks");
  last_state_.clear();
  r = Request(port_, "GET", "/api/v1/notifications");  // default
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(last_state_, "pending");

  r = Request(port_, "GET", "/api/v1/notifications?state=sent");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->Header("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "state must be pending or dead, not \"sent\"");

  // A provider failure is a 500 JSON error, not a crash.
  r = Request(port_, "GET", "/api/v1/notifications?state=dead");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_TRUE(nlohmann::json::parse(r->body).contains("error"));
}

TEST_F(ApiTest, MutatingMethodsOnReadOnlyRoutesAre405) {
  auto r = Request(port_, "POST", "/api/v1/alerts", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_TRUE(nlohmann::json::parse(r->body).contains("error"));
}

TEST(ApiRoutesTest, EmptyProvidersLeaveRoutesOut) {
  HttpServer server("127.0.0.1:0");
  AddApiRoutes(server, ApiSources{});
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(Request(server.port(), "GET", "/healthz")->status, 200);
  EXPECT_EQ(Request(server.port(), "GET", "/readyz")->status, 200);  // no ready(): ready
  EXPECT_EQ(Request(server.port(), "GET", "/api/v1/alerts")->status, 404);
  EXPECT_EQ(Request(server.port(), "GET", "/metrics")->status, 404);
}

// Issue 7 point 11: a lost state store fails readiness with the reason.
TEST(ApiRoutesTest, ReadyzSaysWhyItIsNotReady) {
  HttpServer server("127.0.0.1:0");
  ApiSources sources;
  sources.ready = [] { return false; };
  sources.not_ready_reason = [] { return std::string("state store lost: x was deleted"); };
  AddApiRoutes(server, sources);
  ASSERT_TRUE(server.Start().ok());
  auto r = Request(server.port(), "GET", "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "not ready: state store lost: x was deleted");
}

}  // namespace
}  // namespace linkwatch::http
