// The built-in integrations (webhook, file, log, alertmanager), built through the registry
// from YAML as the config loader builds them.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "notifiers/receivers.h"
#include "tests/fakes/http_receiver.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {

using fakes::HttpReceiver;
using testutil::MakeAlert;

// HMAC-SHA256 through OpenSSL's EVP_MAC interface, independent of the
// HMAC() call the webhook uses.
std::string ExpectedSignature(const std::string& key, const std::string& body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
            reinterpret_cast<const unsigned char*>(body.data()), body.size(), out, sizeof out,
            &len);
  std::string hex;
  char buf[3];
  for (size_t i = 0; i < len; ++i) {
    snprintf(buf, sizeof buf, "%02x", out[i]);
    hex += buf;
  }
  return "sha256=" + hex;
}

class IntegrationsTest : public ::testing::Test {
 protected:
  std::shared_ptr<Notifier> Build(const std::string& yaml) {
    Problems problems("config.yaml");
    YAML::Node root = LoadYamlString(yaml, "config.yaml");
    auto rs =
        ParseReceivers(root["receivers"], "config.yaml", dir_.path().string(), problems, clock_);
    std::string all;
    for (const auto& p : problems.list()) all += p.ToString() + "\n";
    EXPECT_TRUE(problems.empty()) << all;
    if (rs.size() != 1) return nullptr;
    return rs[0].notifier;
  }

  Notification Sample(int alerts = 2) {
    Notification n;
    n.receiver = "hooks";
    n.group_labels = {{"alertname", "SyncStalled"}};
    n.group_key = "{}:{alertname=\"SyncStalled\"}";
    n.external_url = "http://127.0.0.1:9464/";
    n.created_at = ToEpochSeconds(clock_.Now());
    for (int i = 0; i < alerts; ++i) {
      n.alerts.push_back(
          MakeAlert({{"alertname", "SyncStalled"}, {"entity", "t" + std::to_string(i)}},
                    AlertState::kFiring, ToEpochSeconds(clock_.Now())));
    }
    return n;
  }

  testutil::TempDir dir_;
  ManualClock clock_{testutil::T0()};
};

TEST_F(IntegrationsTest, WebhookPostsTheV4BodyWithHeadersAndSignature) {
  HttpReceiver server;
  auto hook = Build(R"(receivers:
  - name: hooks
    webhook:
      url: )" + server.Url("/alerts") +
                    R"(
      headers: {Authorization: Bearer abc}
      hmac_secret: topsecret
)");
  ASSERT_NE(hook, nullptr);
  const Notification n = Sample();
  SendResult r = hook->Send(n);
  EXPECT_TRUE(r.ok()) << r.reason << " " << r.detail;
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/alerts");
  EXPECT_EQ(got[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(got[0].Header("Authorization"), "Bearer abc");
  EXPECT_EQ(nlohmann::json::parse(got[0].body), WebhookBody(n));
  EXPECT_EQ(got[0].Header("X-Linkwatch-Signature"), ExpectedSignature("topsecret", got[0].body));
}

TEST_F(IntegrationsTest, WebhookWithoutHmacSendsNoSignature) {
  HttpReceiver server;
  auto hook = Build("receivers:\n  - name: hooks\n    webhook: {url: '" + server.Url() + "'}\n");
  ASSERT_NE(hook, nullptr);
  EXPECT_TRUE(hook->Send(Sample()).ok());
  ASSERT_EQ(server.Count(), 1u);
  EXPECT_FALSE(server.Requests()[0].Header("X-Linkwatch-Signature").has_value());
}

TEST_F(IntegrationsTest, WebhookMaxAlertsTruncates) {
  HttpReceiver server;
  auto hook = Build("receivers:\n  - name: hooks\n    webhook: {url: '" + server.Url() +
                    "', max_alerts: 2}\n");
  ASSERT_NE(hook, nullptr);
  EXPECT_TRUE(hook->Send(Sample(5)).ok());
  ASSERT_EQ(server.Count(), 1u);
  auto body = nlohmann::json::parse(server.Requests()[0].body);
  EXPECT_EQ(body["alerts"].size(), 2u);
  EXPECT_EQ(body["truncatedAlerts"], 3);
}

TEST_F(IntegrationsTest, WebhookClassifiesTheAnswer) {
  HttpReceiver server;
  server.Push(503, {{"Retry-After", "3"}});
  server.Push(400, {}, "bad payload");
  // Never answered (held until the server stops): the client's 200 ms
  // timeout is libcurl's, in real time.
  server.Push(fakes::ScriptedResponse{200, {}, {}, {}, /*hold=*/true});
  auto hook = Build("receivers:\n  - name: hooks\n    webhook: {url: '" + server.Url() +
                    "', timeout: 200ms}\n");
  ASSERT_NE(hook, nullptr);
  SendResult r = hook->Send(Sample());
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "serverError");
  EXPECT_EQ(r.retry_after, Millis(3000));
  r = hook->Send(Sample());
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "clientError");
  EXPECT_NE(r.detail.find("bad payload"), std::string::npos);
  r = hook->Send(Sample());
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "timeout");
}

TEST_F(IntegrationsTest, FileAppendsOneJsonObjectPerNotification) {
  auto file = Build("receivers:\n  - name: jsonl\n    file: {path: out/alerts.jsonl}\n");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->integration(), "file");
  const Notification a = Sample(1);
  const Notification b = Sample(2);
  EXPECT_TRUE(file->Send(a).ok());
  clock_.Advance(std::chrono::seconds(90));
  EXPECT_TRUE(file->Send(b).ok());

  std::ifstream in(dir_.File("out/alerts.jsonl"));
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json expected = WebhookBody(a);
  expected["receiver"] = "hooks";
  expected["sentAt"] = "2026-01-01T00:00:00Z";
  EXPECT_EQ(lines[0], expected);
  EXPECT_EQ(lines[1]["sentAt"], "2026-01-01T00:01:30Z");
  EXPECT_EQ(lines[1]["alerts"].size(), 2u);
}

TEST_F(IntegrationsTest, FileWriteFailureIsRetried) {
  std::filesystem::create_directories(dir_.path() / "adir");
  auto file = Build("receivers:\n  - name: jsonl\n    file: {path: adir}\n");
  ASSERT_NE(file, nullptr);
  SendResult r = file->Send(Sample());
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "other");
  EXPECT_NE(r.detail.find("adir"), std::string::npos);
}

TEST_F(IntegrationsTest, LogWritesOneLinePerNotification) {
  std::ostringstream out;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  logger->set_pattern("%v");
  spdlog::set_default_logger(logger);
  auto log = Build("receivers:\n  - name: console\n    log: {}\n");
  ASSERT_NE(log, nullptr);
  Notification n = Sample(2);
  n.receiver = "console";
  n.alerts[0].annotations["summary"] = "t0 has \"stalled\"\nbadly";
  n.alerts[1].state = AlertState::kResolved;
  EXPECT_TRUE(log->Send(n).ok());
  spdlog::set_default_logger(previous);

  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_EQ(
      text.rfind("[FIRING:1] SyncStalled receiver=console group={}:{alertname=\"SyncStalled\"}", 0),
      0u)
      << text;
  EXPECT_NE(text.find("firing {alertname=\"SyncStalled\", entity=\"t0\"} summary=\"t0 has "
                      "\\\"stalled\\\"\\nbadly\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("; resolved {alertname=\"SyncStalled\", entity=\"t1\"}"), std::string::npos)
      << text;
}

TEST_F(IntegrationsTest, AlertmanagerPostsV2AlertsThatExpireUnlessResent) {
  HttpReceiver am;
  auto notifier = Build(R"(receivers:
  - name: am
    alertmanager: {url: ')" +
                        am.Url("/") + R"(', resend_interval: 30s,
                   headers: {Authorization: 'Bearer xyz'}}
)");
  ASSERT_NE(notifier, nullptr);
  EXPECT_EQ(notifier->integration(), "alertmanager");
  EXPECT_EQ(notifier->ResendInterval(), Millis(30000));
  Notification n = Sample(2);
  n.alerts[1].state = AlertState::kResolved;
  n.alerts[1].ends_at = ToEpochSeconds(clock_.Now()) - 60;
  n.alerts[0].annotations = {{"summary", "late"}};
  ASSERT_TRUE(notifier->Send(n).ok());
  ASSERT_EQ(am.Count(), 1u);
  const auto req = am.Requests()[0];
  EXPECT_EQ(req.target, "/api/v2/alerts");
  EXPECT_EQ(req.Header("Authorization").value_or(""), "Bearer xyz");
  auto body = nlohmann::json::parse(req.body);
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[0]["labels"]["entity"], "t0");
  EXPECT_EQ(body[0]["annotations"]["summary"], "late");
  EXPECT_EQ(body[0]["startsAt"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(body[0]["endsAt"], "2026-01-01T00:02:00Z") << "firing: now + 4 x resend_interval";
  EXPECT_EQ(body[0]["generatorURL"], "http://127.0.0.1:9464/#alert-" + n.alerts[0].fingerprint);
  EXPECT_EQ(body[1]["endsAt"], "2025-12-31T23:59:00Z") << "resolved: its real end";

  // The next re-send of the group (only t0 left) repeats the resolved alert
  // for 15 minutes after it ended, then no more.
  Notification again = Sample(1);
  clock_.Advance(std::chrono::minutes(10));
  ASSERT_TRUE(notifier->Send(again).ok());
  EXPECT_EQ(nlohmann::json::parse(am.Requests()[1].body).size(), 2u);
  clock_.Advance(std::chrono::minutes(10));
  ASSERT_TRUE(notifier->Send(again).ok());
  auto last = nlohmann::json::parse(am.Requests()[2].body);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0]["endsAt"], "2026-01-01T00:22:00Z");

  am.Push(400, {}, R"({"code":400,"message":"bad alert"})");
  EXPECT_EQ(notifier->Send(again).kind, SendResult::kPermanent);
}

TEST_F(IntegrationsTest, AlertmanagerConfigProblemsNameTheKey) {
  Problems problems("config.yaml");
  ParseReceivers(LoadYamlString(R"(receivers:
  - name: am
    alertmanager: {url: 'ftp://x', resend_interval: 0s}
  - name: am2
    alertmanager: {resend: 1m}
)",
                                "config.yaml")["receivers"],
                 "config.yaml", dir_.path().string(), problems, clock_);
  std::string all;
  for (const auto& p : problems.list()) all += p.ToString() + "\n";
  EXPECT_NE(all.find("config.yaml:3:25: receiver \"am\" alertmanager: url must start with http"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("resend_interval must be above 0"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown key \"resend\""), std::string::npos) << all;
  EXPECT_NE(all.find("url is required"), std::string::npos) << all;
}

}  // namespace
}  // namespace linkwatch::notifiers
