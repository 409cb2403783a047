// The sms integration (notifiers/sms.cc): text fitting, configuration
// problems, the ACS signature checked against an independent implementation
// of the documented algorithm, and Twilio, ACS and webhook fakes on loopback
// driven through a real Outbox on a ManualClock, so that retries, dead
// letters and metrics are the real ones.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "notifiers/notifier_metrics.h"
#include "notifiers/outbox.h"
#include "notifiers/receivers.h"
#include "tests/fakes/http_receiver.h"
#include "tests/fakes/metric_value.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {

// Defined in notifiers/sms.cc.
std::string FitSmsText(std::string_view rendered, int truncated_alerts);

namespace {

using fakes::HttpReceiver;
using fakes::RecordedRequest;
using fakes::ScriptedResponse;
using testutil::MakeAlert;

// ---- independent OpenSSL helpers (no product code) -------------------------

std::string B64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Sha256B64(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return B64(std::string(reinterpret_cast<char*>(md), len));
}

std::string HmacSha256B64(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof out,
            &len);
  return B64(std::string(reinterpret_cast<char*>(out), len));
}

// The documented ACS scheme (notifications.md, "sms", steps 1-4).
std::string ExpectedAcsAuthorization(const std::string& raw_key, const std::string& date,
                                     const std::string& host, const std::string& body) {
  const std::string to_sign =
      "POST\n/sms?api-version=2021-03-07\n" + date + ";" + host + ";" + Sha256B64(body);
  return "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" +
         HmacSha256B64(raw_key, to_sign);
}

// application/x-www-form-urlencoded body -> fields.
std::map<std::string, std::string> Form(const std::string& body) {
  auto decode = [](const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += s[i] == '+' ? ' ' : s[i];
      }
    }
    return out;
  };
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string::npos) amp = body.size();
    const std::string pair = body.substr(pos, amp - pos);
    const size_t eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = eq == std::string::npos ? "" : decode(pair.substr(eq + 1));
    pos = amp + 1;
  }
  return out;
}

// The ACS request's recipients: to -> {repeatabilityRequestId, repeatabilityFirstSent}.
std::map<std::string, std::pair<std::string, std::string>> AcsRecipients(const RecordedRequest& r) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  const auto body = nlohmann::json::parse(r.body);
  for (const auto& x : body["smsRecipients"]) {
    out[x["to"].get<std::string>()] = {x["repeatabilityRequestId"].get<std::string>(),
                                       x["repeatabilityFirstSent"].get<std::string>()};
  }
  return out;
}

std::string AcsAnswer(const std::vector<std::tuple<std::string, int, std::string>>& recipients) {
  nlohmann::json value = nlohmann::json::array();
  for (const auto& [to, status, error] : recipients) {
    nlohmann::json v = {{"to", to},
                        {"messageId", "Outgoing_" + to},
                        {"httpStatusCode", status},
                        {"successful", status == 202}};
    v["errorMessage"] = error.empty() ? nlohmann::json() : nlohmann::json(error);
    value.push_back(v);
  }
  return nlohmann::json{{"value", value}}.dump();
}

std::string TwilioError(int code, const std::string& message, int status) {
  return nlohmann::json{{"code", code},
                        {"message", message},
                        {"more_info", "https://www.twilio.com/docs/errors/" + std::to_string(code)},
                        {"status", status}}
      .dump();
}

const std::string kA = "+15550002222";
const std::string kB = "+15550003333";
const std::string kC = "+15550004444";
// 32 raw bytes; the connection string carries their base64.
const std::string kAcsKey = "linkwatch-test-access-key-32byte";

// ---- FitSmsText ------------------------------------------------------------

TEST(SmsTextTest, OneLineStaysAsItIs) {
  EXPECT_EQ(FitSmsText("FIRING SyncStalled crm/account: not synced for 21m\n", 0),
            "FIRING SyncStalled crm/account: not synced for 21m");
  EXPECT_EQ(FitSmsText("\n  padded  \n\n", 0), "padded");
  EXPECT_EQ(FitSmsText("", 0), "");
}

TEST(SmsTextTest, LinesThatFitOneSegmentAreJoined) {
  EXPECT_EQ(FitSmsText("FIRING A crm/account: x\nFIRING A crm/contact: y\n", 0),
            "FIRING A crm/account: x; FIRING A crm/contact: y");
  // Exactly 160 characters joined: still one segment.
  const std::string a(79, 'a'), b(79, 'b');
  EXPECT_EQ(FitSmsText(a + "\n" + b + "\n", 0), a + "; " + b);
}

TEST(SmsTextTest, LongerTextKeepsTheFirstLineAndCountsTheRest) {
  const std::string a(79, 'a'), b(80, 'b');
  EXPECT_EQ(FitSmsText(a + "\n" + b + "\n", 0), a + " (and 1 more alert)");
  EXPECT_EQ(FitSmsText(a + "\n" + b + "\nc\n", 0), a + " (and 2 more alerts)");
  // Alerts the notification already left out count too, even when it fits.
  EXPECT_EQ(FitSmsText("x\ny\n", 3), "x (and 4 more alerts)");
  EXPECT_EQ(FitSmsText("x\n", 1), "x (and 1 more alert)");
}

TEST(SmsTextTest, NeverMoreThan1600CharactersCountingCharactersNotBytes) {
  const std::string long_line(2000, 'x');
  EXPECT_EQ(FitSmsText(long_line, 0), std::string(1597, 'x') + "...");
  const std::string fitted = FitSmsText(long_line + "\nsecond\n", 0);
  EXPECT_EQ(fitted, std::string(1600 - 3 - 19, 'x') + "... (and 1 more alert)");
  EXPECT_EQ(fitted.size(), 1600u);
  // "é" is two bytes and one character.
  std::string e;
  for (int i = 0; i < 1700; ++i) e += "\xc3\xa9";
  std::string want;
  for (int i = 0; i < 1597; ++i) want += "\xc3\xa9";
  EXPECT_EQ(FitSmsText(e, 0), want + "...");
  std::string short_e;
  for (int i = 0; i < 150; ++i) short_e += "\xc3\xa9";
  EXPECT_EQ(FitSmsText(short_e + "\nabcdefgh\n", 0), short_e + "; abcdefgh");  // 160 characters
}

// ---- configuration ---------------------------------------------------------

class SmsConfigTest : public ::testing::Test {
 protected:
  std::vector<ReceiverConfig> Parse(const std::string& sms) {
    YAML::Node root =
        LoadYamlString("receivers:\n  - name: pager\n    sms: " + sms + "\n", "config.yaml");
    return ParseReceivers(root["receivers"], "config.yaml", dir_.path().string(), problems_);
  }
  std::string All() const {
    std::string out;
    for (const auto& p : problems_.list()) out += p.ToString() + "\n";
    return out;
  }
  testutil::TempDir dir_;
  Problems problems_{"config.yaml"};
};

TEST_F(SmsConfigTest, ParsesEachProviderWithItsDefaultRateLimit) {
  auto twilio = Parse(
      "{provider: twilio, account_sid: AC1, auth_token: t, from: '+15550001111', "
      "to: ['+15550002222']}");
  ASSERT_EQ(twilio.size(), 1u) << All();
  ASSERT_TRUE(twilio[0].rate_limit.has_value());
  EXPECT_EQ(twilio[0].rate_limit->per_second, 1);
  auto acs = Parse(
      "{provider: acs, connection_string: 'endpoint=https://r.communication.azure.com/"
      ";accesskey=" +
      B64(kAcsKey) + "', from: '+18005550000', to: ['+15550002222']}");
  ASSERT_EQ(acs.size(), 1u) << All();
  ASSERT_TRUE(acs[0].rate_limit.has_value());
  EXPECT_DOUBLE_EQ(acs[0].rate_limit->per_second, 200.0 / 60);
  auto webhook = Parse("{provider: webhook, url: 'http://127.0.0.1:1/sms', to: [ops]}");
  ASSERT_EQ(webhook.size(), 1u) << All();
  EXPECT_EQ(webhook[0].integration, "sms");
  EXPECT_EQ(webhook[0].notifier->integration(), "sms");
  EXPECT_FALSE(webhook[0].rate_limit.has_value());
  EXPECT_TRUE(problems_.empty()) << All();
}

TEST_F(SmsConfigTest, MissingProviderIsReportedAtTheMapping) {
  EXPECT_TRUE(Parse("{to: ['+15550002222']}").empty());
  ASSERT_EQ(problems_.list().size(), 1u) << All();
  EXPECT_EQ(problems_.list()[0].ToString(),
            "config.yaml:3:10: receiver \"pager\" sms: provider is required (twilio, acs or "
            "webhook)");
}

TEST_F(SmsConfigTest, UnknownProviderAndKeysOfAnotherProvider) {
  EXPECT_TRUE(Parse("{provider: pigeon, to: ['+15550002222']}").empty());
  EXPECT_NE(All().find("config.yaml:3:21: receiver \"pager\" sms: provider must be twilio, acs "
                       "or webhook, not \"pigeon\""),
            std::string::npos)
      << All();
  problems_ = Problems("config.yaml");
  EXPECT_TRUE(Parse("{provider: webhook, url: 'http://x/', account_sid: AC1, to: [a]}").empty());
  EXPECT_NE(All().find("config.yaml:3:"), std::string::npos) << All();
  EXPECT_NE(All().find("unknown key \"account_sid\""), std::string::npos) << All();
}

TEST_F(SmsConfigTest, BadConnectionStringsAreClearAndNeverPrintTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"endpoint=ftp://r.communication.azure.com/;accesskey=c2VjcmV0LWtleQ==",
       "endpoint must start with https://"},
      {"endpoint=https://r.communication.azure.com/;accesskey=s3cr3t-key!!",
       "accesskey is not base64"},
      {"accesskey=c2VjcmV0LWtleQ==", "has no endpoint"},
      {"endpoint=https://r.communication.azure.com/", "has no accesskey"},
      {"endpoint=https://r.communication.azure.com/sms;accesskey=c2VjcmV0LWtleQ==",
       "must have no path"},
      {"s3cr3t-key", "must be endpoint=https://...;accesskey=..."},
  };
  for (const auto& [cs, message] : cases) {
    problems_ = Problems("config.yaml");
    EXPECT_TRUE(Parse("{provider: acs, connection_string: '" + cs +
                      "', from: '+18005550000', to: ['+15550002222']}")
                    .empty());
    ASSERT_EQ(problems_.list().size(), 1u) << All();
    const std::string got = problems_.list()[0].ToString();
    EXPECT_EQ(got.rfind("config.yaml:3:45: receiver \"pager\" sms: connection_string", 0), 0u)
        << got;
    EXPECT_NE(got.find(message), std::string::npos) << got;
    EXPECT_NE(got.find("<secret from inline>"), std::string::npos) << got;
    EXPECT_EQ(got.find("s3cr3t"), std::string::npos) << got;
    EXPECT_EQ(got.find("c2VjcmV0"), std::string::npos) << got;
  }
}

TEST_F(SmsConfigTest, AcsTakesAtMost100Recipients) {
  std::string to;
  for (int i = 0; i < 101; ++i)
    to += (i ? ", '+1555" : "'+1555") + std::to_string(1000000 + i) + "'";
  EXPECT_TRUE(Parse("{provider: acs, connection_string: 'endpoint=https://r.communication.azure."
                    "com/;accesskey=c2VjcmV0LWtleQ==', from: '+18005550000', to: [" +
                    to + "]}")
                  .empty());
  ASSERT_EQ(problems_.list().size(), 1u) << All();
  EXPECT_EQ(problems_.list()[0].ToString().rfind("config.yaml:3:", 0), 0u) << All();
  EXPECT_NE(All().find("acs sends to at most 100 recipients, to lists 101"), std::string::npos)
      << All();
}

TEST_F(SmsConfigTest, RecipientsAreRequiredValidAndUnique) {
  EXPECT_TRUE(Parse("{provider: webhook, url: 'http://x/', to: []}").empty());
  EXPECT_NE(All().find("config.yaml:3:52: receiver \"pager\" sms: to must list at least one "
                       "recipient"),
            std::string::npos)
      << All();
  problems_ = Problems("config.yaml");
  EXPECT_TRUE(Parse("{provider: webhook, url: 'http://x/'}").empty());
  EXPECT_NE(All().find("config.yaml:3:10: receiver \"pager\" sms: to is required"),
            std::string::npos)
      << All();
  problems_ = Problems("config.yaml");
  EXPECT_TRUE(Parse("{provider: twilio, account_sid: AC1, auth_token: t, from: x, "
                    "to: ['+15550002222', '5550003333', '+15550002222']}")
                  .empty());
  EXPECT_NE(All().find("\"5550003333\" is not an E.164 phone number"), std::string::npos) << All();
  EXPECT_NE(All().find("\"+15550002222\" is listed twice"), std::string::npos) << All();
}

TEST_F(SmsConfigTest, TwilioNeedsItsCredentialsAndOneSender) {
  EXPECT_TRUE(Parse("{provider: twilio, to: ['+15550002222']}").empty());
  EXPECT_NE(All().find("account_sid is required"), std::string::npos) << All();
  EXPECT_NE(All().find("auth_token is required"), std::string::npos) << All();
  EXPECT_NE(All().find("twilio needs from (a number or sender id) or messaging_service_sid"),
            std::string::npos)
      << All();
  problems_ = Problems("config.yaml");
  EXPECT_TRUE(Parse("{provider: twilio, account_sid: AC1, auth_token: {env: "
                    "LW_TEST_SURELY_UNSET_VAR}, from: a, messaging_service_sid: MG1, "
                    "to: ['+15550002222'], text: '{{#alerts}}'}")
                  .empty());
  EXPECT_NE(All().find("either from or messaging_service_sid, not both"), std::string::npos)
      << All();
  EXPECT_NE(All().find("LW_TEST_SURELY_UNSET_VAR"), std::string::npos) << All();
  EXPECT_NE(All().find("text template"), std::string::npos) << All();
}

// ---- through the outbox ----------------------------------------------------

class SmsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.backoff.jitter = false;  // exact backoff, so the test can check it
    auto o = Outbox::Open(dir_.File("state.db"), clock_, metrics_, options_);
    ASSERT_TRUE(o.ok()) << o.message();
    outbox_ = std::move(o).value();
  }
  void TearDown() override { outbox_->Stop(); }

  std::shared_ptr<Notifier> Build(const std::string& sms) {
    Problems problems("config.yaml");
    YAML::Node root =
        LoadYamlString("receivers:\n  - name: pager\n    sms: " + sms + "\n", "config.yaml");
    auto rs =
        ParseReceivers(root["receivers"], "config.yaml", dir_.path().string(), problems, clock_);
    std::string all;
    for (const auto& p : problems.list()) all += p.ToString() + "\n";
    EXPECT_TRUE(problems.empty()) << all;
    return rs.size() == 1 ? rs[0].notifier : nullptr;
  }

  void Start(const std::string& sms) {
    Problems problems("config.yaml");
    YAML::Node root =
        LoadYamlString("receivers:\n  - name: pager\n    sms: " + sms + "\n", "config.yaml");
    auto rs =
        ParseReceivers(root["receivers"], "config.yaml", dir_.path().string(), problems, clock_);
    ASSERT_TRUE(problems.empty()) << problems.list()[0].ToString();
    outbox_->SetReceivers(rs);
    outbox_->Start();
  }

  static std::string Twilio(const HttpReceiver& server, const std::vector<std::string>& to) {
    std::string list;
    for (const auto& t : to) list += (list.empty() ? "'" : ", '") + t + "'";
    return "{provider: twilio, account_sid: AC0123, auth_token: tok-s3cret, from: '+15550001111', "
           "base_url: '" +
           server.Url("") + "', to: [" + list + "]}";
  }
  static std::string Acs(const HttpReceiver& server, const std::vector<std::string>& to) {
    std::string list;
    for (const auto& t : to) list += (list.empty() ? "'" : ", '") + t + "'";
    return "{provider: acs, connection_string: 'endpoint=" + server.Url("/") +
           ";accesskey=" + B64(kAcsKey) + "', from: '+18005550000', to: [" + list + "]}";
  }

  Notification Make(std::vector<std::string> entities = {"account"}) {
    Notification n;
    n.receiver = "pager";
    n.group_labels = {{"alertname", "SyncStalled"}};
    n.group_key = "{}:{alertname=\"SyncStalled\"}";
    n.created_at = ToEpochSeconds(clock_.Now());
    for (const auto& e : entities) {
      Alert a = MakeAlert({{"alertname", "SyncStalled"}, {"profile", "crm"}, {"entity", e}},
                          AlertState::kFiring, ToEpochSeconds(clock_.Now()));
      a.annotations = {{"summary", "not synced for 21m"}};
      n.alerts.push_back(std::move(a));
    }
    return n;
  }

  void Enqueue(const Notification& n) {
    Status s = outbox_->Enqueue({n});
    ASSERT_TRUE(s.ok()) << s.message();
  }
  std::vector<OutboxEntry> List(const std::string& state) {
    auto l = outbox_->List(state);
    EXPECT_TRUE(l.ok()) << l.message();
    return l.ok() ? *l : std::vector<OutboxEntry>{};
  }
  // Waits until the pending head has `attempts` attempts recorded.
  bool Attempts(int attempts) {
    return testutil::Eventually(clock_, [&] {
      auto l = List("pending");
      return !l.empty() && l[0].attempts == attempts;
    });
  }
  bool Dead() {
    return testutil::Eventually(clock_, [&] { return List("dead").size() == 1; });
  }
  bool Delivered() {
    return testutil::Eventually(clock_,
                                [&] { return Value("linkwatch_notifications_total") == 1; });
  }
  double Value(std::string_view name, const std::string& reason = "") {
    std::map<std::string, std::string> labels{{"receiver", "pager"}, {"integration", "sms"}};
    if (!reason.empty()) labels["reason"] = reason;
    return fakes::MetricValue(registry_, name, labels).value_or(-1);
  }
  double Failed(const std::string& reason) {
    return Value("linkwatch_notifications_failed_total", reason);
  }
  double DeadCount(const std::string& reason) {
    return Value("linkwatch_notifications_dead_total", reason);
  }
  // The worker parked for its head's retry around `due` from T0.
  bool RetryParkedAt(Millis due) {
    return clock_.AwaitDeadline(testutil::T0() + due - Millis(50),
                                testutil::T0() + due + Millis(50));
  }

  testutil::TempDir dir_;
  ManualClock clock_{testutil::T0()};
  prometheus::Registry registry_;
  NotifierMetrics metrics_{registry_};
  OutboxOptions options_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(SmsTest, AcsSignatureMatchesAnIndependentImplementation) {
  HttpReceiver server;
  server.Push(202, {}, AcsAnswer({{kA, 202, ""}}));
  auto sms = Build(Acs(server, {kA}));
  ASSERT_NE(sms, nullptr);
  const Notification n = Make();
  SendResult r = sms->Send(n);
  EXPECT_TRUE(r.ok()) << r.reason << " " << r.detail;
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/sms?api-version=2021-03-07");
  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(got[0].Header("Host"), host);
  // The manual clock stands at 2026-01-01T00:00:00Z, a Thursday.
  const std::string date = "Thu, 01 Jan 2026 00:00:00 GMT";
  EXPECT_EQ(got[0].Header("x-ms-date"), date);
  EXPECT_EQ(got[0].Header("x-ms-content-sha256"), Sha256B64(got[0].body));
  EXPECT_EQ(got[0].Header("Authorization"),
            ExpectedAcsAuthorization(kAcsKey, date, host, got[0].body));
  EXPECT_EQ(got[0].Header("Content-Type"), "application/json");
  // The body as documented, in the documented order.
  const auto body = nlohmann::ordered_json::parse(got[0].body);
  std::vector<std::string> keys;
  for (const auto& [k, v] : body.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"from", "smsRecipients", "message", "smsSendOptions"}));
  EXPECT_EQ(body["from"], "+18005550000");
  EXPECT_EQ(body["message"], "FIRING SyncStalled crm/account: not synced for 21m");
  EXPECT_EQ(body["smsSendOptions"], nlohmann::ordered_json({{"enableDeliveryReport", false}}));
  ASSERT_EQ(body["smsRecipients"].size(), 1u);
  const auto& rec = body["smsRecipients"][0];
  EXPECT_EQ(rec["to"], kA);
  EXPECT_TRUE(std::regex_match(rec["repeatabilityRequestId"].get<std::string>(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                          "[0-9a-f]{12}")))
      << rec["repeatabilityRequestId"];
  EXPECT_EQ(rec["repeatabilityFirstSent"], date);  // created_at
}

TEST_F(SmsTest, AcsSignsTheDateOfEachAttemptButKeepsFirstSent) {
  HttpReceiver server;
  server.Push(202, {}, AcsAnswer({{kA, 202, ""}}));
  auto sms = Build(Acs(server, {kA}));
  ASSERT_NE(sms, nullptr);
  const Notification n = Make();
  clock_.Advance(std::chrono::seconds(3661));
  EXPECT_TRUE(sms->Send(n).ok());
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 1u);
  const std::string date = "Thu, 01 Jan 2026 01:01:01 GMT";
  EXPECT_EQ(got[0].Header("x-ms-date"), date);
  EXPECT_EQ(got[0].Header("Authorization"),
            ExpectedAcsAuthorization(kAcsKey, date, "127.0.0.1:" + std::to_string(server.port()),
                                     got[0].body));
  EXPECT_EQ(AcsRecipients(got[0])[kA].second, "Thu, 01 Jan 2026 00:00:00 GMT");
}

TEST_F(SmsTest, AcsRepeatabilityIdsSurviveARestart) {
  HttpReceiver server;
  server.SetDefault({202, {}, AcsAnswer({{kA, 202, ""}, {kB, 202, ""}})});
  const Notification n = Make();
  EXPECT_TRUE(Build(Acs(server, {kA, kB}))->Send(n).ok());
  EXPECT_TRUE(Build(Acs(server, {kA, kB}))->Send(n).ok());  // a new process, the same notification
  Notification later = n;
  later.created_at += 60;
  EXPECT_TRUE(Build(Acs(server, {kA, kB}))->Send(later).ok());
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 3u);
  auto first = AcsRecipients(got[0]);
  EXPECT_EQ(AcsRecipients(got[1]), first);
  EXPECT_NE(first[kA].first, first[kB].first);
  auto other = AcsRecipients(got[2]);
  EXPECT_NE(other[kA].first, first[kA].first);
  EXPECT_EQ(other[kA].second, "Thu, 01 Jan 2026 00:01:00 GMT");
}

TEST_F(SmsTest, AcsRetriesOnlyTheFailedRecipientWithTheSameIdThenDelivers) {
  HttpReceiver server;
  server.Push(202, {}, AcsAnswer({{kA, 202, ""}, {kB, 429, "Too many requests"}, {kC, 202, ""}}));
  server.Push(202, {}, AcsAnswer({{kB, 202, ""}}));
  Start(Acs(server, {kA, kB, kC}));
  Enqueue(Make());
  ASSERT_TRUE(Attempts(1));
  auto pending = List("pending");
  EXPECT_EQ(pending[0].last_error,
            "rateLimited: 1 of 3 recipients to retry (2 sent): HTTP 429: Too many requests");
  EXPECT_EQ(Failed("rateLimited"), 1);
  ASSERT_TRUE(RetryParkedAt(Millis(500)));  // backoff: no Retry-After for one recipient
  clock_.Advance(Millis(500));
  ASSERT_TRUE(Delivered());
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 2u);
  auto first = AcsRecipients(got[0]);
  auto retry = AcsRecipients(got[1]);
  EXPECT_EQ(first.size(), 3u);
  ASSERT_EQ(retry.size(), 1u);
  ASSERT_TRUE(retry.count(kB));
  EXPECT_EQ(retry[kB], first[kB]);  // same repeatabilityRequestId and repeatabilityFirstSent
  EXPECT_TRUE(List("pending").empty());
  EXPECT_TRUE(List("dead").empty());
  EXPECT_EQ(Failed("serverError"), 0);
}

TEST_F(SmsTest, AcsPartialPermanentFailureEndsInADeadLetterAfterTheOthersAreSent) {
  HttpReceiver server;
  server.Push(202, {},
              AcsAnswer({{kA, 202, ""}, {kB, 500, "Internal error"}, {kC, 400, "Invalid To"}}));
  server.Push(202, {}, AcsAnswer({{kB, 202, ""}}));
  Start(Acs(server, {kA, kB, kC}));
  Enqueue(Make());
  ASSERT_TRUE(Attempts(1));
  EXPECT_EQ(List("pending")[0].last_error,
            "serverError: 1 of 3 recipients to retry (1 sent): HTTP 500: Internal error");
  ASSERT_TRUE(RetryParkedAt(Millis(500)));
  clock_.Advance(Millis(500));
  ASSERT_TRUE(Dead());
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 2u);
  auto retry = AcsRecipients(got[1]);
  ASSERT_EQ(retry.size(), 1u);  // neither the sent one nor the invalid one again
  EXPECT_EQ(retry[kB], AcsRecipients(got[0])[kB]);
  auto dead = List("dead");
  EXPECT_EQ(dead[0].dead_reason, "clientError");
  EXPECT_EQ(dead[0].last_error,
            "clientError: 1 of 3 recipients failed permanently (2 sent): HTTP 400: Invalid To");
  EXPECT_EQ(dead[0].attempts, 2);
  EXPECT_EQ(Failed("serverError"), 1);
  EXPECT_EQ(Failed("clientError"), 1);
  EXPECT_EQ(DeadCount("clientError"), 1);
  EXPECT_EQ(Value("linkwatch_notifications_total"), 0);
}

TEST_F(SmsTest, AcsWholeRequestAnswers) {
  HttpReceiver server;
  server.Push(429, {{"Retry-After", "5"}}, R"({"error":{"code":"TooManyRequests"}})");
  server.Push(400, {}, R"({"error":{"code":"BadRequest","message":"from is invalid"}})");
  Start(Acs(server, {kA, kB}));
  Enqueue(Make());
  ASSERT_TRUE(Attempts(1));
  EXPECT_EQ(Failed("rateLimited"), 1);
  ASSERT_TRUE(RetryParkedAt(Millis(5000)));  // Retry-After honoured by the outbox
  clock_.Advance(Millis(5000));
  ASSERT_TRUE(Dead());
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(AcsRecipients(got[1]), AcsRecipients(got[0]));  // both again, same ids
  auto dead = List("dead");
  EXPECT_EQ(dead[0].dead_reason, "clientError");
  EXPECT_NE(dead[0].last_error.find("from is invalid"), std::string::npos) << dead[0].last_error;
  EXPECT_EQ(DeadCount("clientError"), 1);
}

TEST_F(SmsTest, TwilioSendsOneFormRequestPerRecipient) {
  HttpReceiver server;
  server.SetDefault({201, {}, R"({"sid":"SM1","status":"queued"})"});
  Start(Twilio(server, {kA, kB}));
  Enqueue(Make({"account", "contact"}));
  ASSERT_TRUE(Delivered());
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(got[i].method, "POST");
    EXPECT_EQ(got[i].target, "/2010-04-01/Accounts/AC0123/Messages.json");
    EXPECT_EQ(got[i].Header("Content-Type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(got[i].Header("Authorization"), "Basic " + B64("AC0123:tok-s3cret"));
    auto form = Form(got[i].body);
    EXPECT_EQ(form["To"], i == 0 ? kA : kB);
    EXPECT_EQ(form["From"], "+15550001111");
    EXPECT_EQ(form["Body"],
              "FIRING SyncStalled crm/account: not synced for 21m; "
              "FIRING SyncStalled crm/contact: not synced for 21m");
    EXPECT_EQ(form.count("MessagingServiceSid"), 0u);
  }
  EXPECT_EQ(Failed("clientError"), 0);
}

TEST_F(SmsTest, TwilioRetriesOnlyTheRateLimitedRecipientAndDeadLettersTheInvalidOne) {
  HttpReceiver server;
  server.Push(201, {}, R"({"sid":"SM1"})");
  server.Push(400, {}, TwilioError(21211, "Invalid 'To' Phone Number", 400));
  server.Push(429, {{"Retry-After", "7"}}, TwilioError(20429, "Too Many Requests", 429));
  server.Push(201, {}, R"({"sid":"SM2"})");
  Start(Twilio(server, {kA, kB, kC}));
  Enqueue(Make());
  ASSERT_TRUE(Attempts(1));
  EXPECT_EQ(List("pending")[0].last_error,
            "rateLimited: 1 of 3 recipients to retry (1 sent): HTTP 429: Twilio error 20429: Too "
            "Many Requests");
  EXPECT_EQ(Failed("rateLimited"), 1);
  ASSERT_TRUE(RetryParkedAt(Millis(7000)));
  clock_.Advance(Millis(7000));
  ASSERT_TRUE(Dead());
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(Form(got[0].body)["To"], kA);
  EXPECT_EQ(Form(got[1].body)["To"], kB);
  EXPECT_EQ(Form(got[2].body)["To"], kC);
  EXPECT_EQ(Form(got[3].body)["To"], kC);  // the retry: only the rate-limited one
  auto dead = List("dead");
  EXPECT_EQ(dead[0].dead_reason, "clientError");
  EXPECT_EQ(dead[0].last_error,
            "clientError: 1 of 3 recipients failed permanently (2 sent): HTTP 400: Twilio error "
            "21211: Invalid 'To' Phone Number");
  EXPECT_EQ(Failed("clientError"), 1);
  EXPECT_EQ(DeadCount("clientError"), 1);
  EXPECT_EQ(DeadCount("authError"), 0);
}

TEST_F(SmsTest, TwilioServerErrorStopsTheRoundAndRetriesTheRest) {
  HttpReceiver server;
  server.Push(201, {}, R"({"sid":"SM1"})");
  server.Push(503, {}, "upstream down");
  server.SetDefault({201, {}, R"({"sid":"SMx"})"});
  Start(Twilio(server, {kA, kB, kC}));
  Enqueue(Make());
  ASSERT_TRUE(Attempts(1));
  EXPECT_EQ(server.Count(), 2u);  // C is not tried after B's 503
  EXPECT_EQ(List("pending")[0].last_error,
            "serverError: 2 of 3 recipients to retry (1 sent): HTTP 503: upstream down");
  ASSERT_TRUE(RetryParkedAt(Millis(500)));
  clock_.Advance(Millis(500));
  ASSERT_TRUE(Delivered());
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(Form(got[2].body)["To"], kB);
  EXPECT_EQ(Form(got[3].body)["To"], kC);
  EXPECT_EQ(Failed("serverError"), 1);
}

TEST_F(SmsTest, TwilioAuthErrorIsPermanentForEveryone) {
  HttpReceiver server;
  server.Push(401, {}, TwilioError(20003, "Authenticate", 401));
  Start(Twilio(server, {kA, kB}));
  Enqueue(Make());
  ASSERT_TRUE(Dead());
  EXPECT_EQ(server.Count(), 1u);
  auto dead = List("dead");
  EXPECT_EQ(dead[0].dead_reason, "authError");
  EXPECT_EQ(dead[0].last_error,
            "authError: 2 of 2 recipients failed permanently (0 sent): HTTP 401: Twilio error "
            "20003: Authenticate");
  EXPECT_EQ(dead[0].last_error.find("tok-s3cret"), std::string::npos);
  EXPECT_EQ(DeadCount("authError"), 1);
}

TEST_F(SmsTest, TwilioMessagingServiceAndOneRecipientDetail) {
  HttpReceiver server;
  server.Push(400, {}, TwilioError(21602, "Message body is required.", 400));
  auto sms = Build(
      "{provider: twilio, account_sid: AC9, auth_token: t, messaging_service_sid: "
      "MG5, base_url: '" +
      server.Url("/") + "', to: ['" + kA + "']}");
  ASSERT_NE(sms, nullptr);
  SendResult r = sms->Send(Make());
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "clientError");
  EXPECT_EQ(r.detail, "HTTP 400: Twilio error 21602: Message body is required.");
  ASSERT_EQ(server.Count(), 1u);
  const auto got = server.Requests()[0];
  EXPECT_EQ(got.target, "/2010-04-01/Accounts/AC9/Messages.json");
  auto form = Form(got.body);
  EXPECT_EQ(form["MessagingServiceSid"], "MG5");
  EXPECT_EQ(form.count("From"), 0u);
}

TEST_F(SmsTest, WebhookProviderPostsToMessageStatusAndCount) {
  HttpReceiver server;
  server.Push(204);
  server.Push(500, {}, "oops");
  server.Push(404);
  auto sms = Build("{provider: webhook, url: '" + server.Url("/sms") +
                   "', to: ['+15550002222', ops-team], text: '{{title}}'}");
  ASSERT_NE(sms, nullptr);
  const Notification n = Make({"account", "contact"});
  EXPECT_TRUE(sms->Send(n).ok());
  ASSERT_EQ(server.Count(), 1u);
  EXPECT_EQ(server.Requests()[0].target, "/sms");
  EXPECT_EQ(server.Requests()[0].body,
            R"({"to":["+15550002222","ops-team"],"message":"[FIRING:2] SyncStalled",)"
            R"("status":"firing","alerts":2})");
  SendResult r = sms->Send(n);
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "serverError");
  EXPECT_EQ(r.detail, "2 of 2 recipients to retry (0 sent): HTTP 500: oops");
  r = sms->Send(n);
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "clientError");
}

TEST_F(SmsTest, TemplateErrorFallsBackToTheDefaultLineAndIsReported) {
  HttpReceiver server;
  auto sms = Build("{provider: webhook, url: '" + server.Url("/sms") +
                   "', to: [ops], text: '{{commonLabels.profil}}'}");
  ASSERT_NE(sms, nullptr);
  SendResult r = sms->Send(Make());
  EXPECT_TRUE(r.ok());
  EXPECT_NE(r.template_error.find("text template"), std::string::npos) << r.template_error;
  ASSERT_EQ(server.Count(), 1u);
  EXPECT_EQ(nlohmann::json::parse(server.Requests()[0].body)["message"],
            "FIRING SyncStalled crm/account: not synced for 21m");
}

}  // namespace
}  // namespace linkwatch::notifiers
