#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "notifiers/receivers.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {

class RegistryTest : public ::testing::Test {
 protected:
  std::vector<ReceiverConfig> Parse(
      const std::string& yaml, const NotifierRegistry& registry = NotifierRegistry::Builtin()) {
    YAML::Node root = LoadYamlString(yaml, "config.yaml");
    return ParseReceivers(root["receivers"], "config.yaml", dir_.path().string(), problems_,
                          SystemClock::Instance(), registry);
  }
  std::string AllProblems() const {
    std::string out;
    for (const auto& p : problems_.list()) out += p.ToString() + "\n";
    return out;
  }
  testutil::TempDir dir_;
  Problems problems_{"config.yaml"};
};

TEST_F(RegistryTest, ParsesEveryBuiltInIntegration) {
  auto rs = Parse(R"(
receivers:
  - name: hooks
    webhook: {url: http://127.0.0.1:8080/alerts}
  - name: jsonl
    send_resolved: false
    file: {path: alerts.jsonl}
  - name: console
    log: {}
  - name: quiet
    log:
  - name: am-style
    webhook: {url: 'https://example.com/x', send_resolved: false, max_alerts: 3, timeout: 2s}
    rate_limit: {per_second: 4}
)");
  ASSERT_TRUE(problems_.empty()) << AllProblems();
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(rs[0].name, "hooks");
  EXPECT_EQ(rs[0].integration, "webhook");
  EXPECT_TRUE(rs[0].send_resolved);
  EXPECT_FALSE(rs[0].rate_limit.has_value());
  ASSERT_NE(rs[0].notifier, nullptr);
  EXPECT_EQ(rs[0].notifier->integration(), "webhook");
  EXPECT_EQ(rs[1].integration, "file");
  EXPECT_FALSE(rs[1].send_resolved);
  EXPECT_EQ(rs[2].notifier->integration(), "log");
  EXPECT_EQ(rs[3].notifier->integration(), "log");
  EXPECT_FALSE(rs[4].send_resolved);
  ASSERT_TRUE(rs[4].rate_limit.has_value());
  EXPECT_EQ(rs[4].rate_limit->per_second, 4);
  EXPECT_EQ(rs[4].rate_limit->burst, 4);
}

TEST_F(RegistryTest, UnknownKeysAreErrorsWithPositionAndSuggestion) {
  Parse(R"(receivers:
  - name: hooks
    send_resolve: true
    webhook:
      url: http://127.0.0.1/x
      hmac_secrett: abc
)");
  ASSERT_EQ(problems_.list().size(), 2u) << AllProblems();
  const Problem& a = problems_.list()[0];
  EXPECT_EQ(a.file, "config.yaml");
  EXPECT_EQ(a.line, 3);
  EXPECT_EQ(a.column, 5);
  EXPECT_NE(a.message.find("did you mean \"send_resolved\""), std::string::npos) << a.message;
  const Problem& b = problems_.list()[1];
  EXPECT_EQ(b.line, 6);
  EXPECT_EQ(b.column, 7);
  EXPECT_NE(b.message.find("\"hmac_secrett\""), std::string::npos) << b.message;
  EXPECT_NE(b.message.find("did you mean \"hmac_secret\""), std::string::npos) << b.message;
}

TEST_F(RegistryTest, NamesAreRequiredAndUnique) {
  auto rs = Parse(R"(receivers:
  - name: a
    log: {}
  - name: a
    log: {}
  - log: {}
)");
  EXPECT_EQ(rs.size(), 1u);
  ASSERT_EQ(problems_.list().size(), 2u) << AllProblems();
  EXPECT_NE(problems_.list()[0].message.find("duplicate receiver name \"a\""), std::string::npos);
  EXPECT_EQ(problems_.list()[0].line, 4);
  EXPECT_NE(problems_.list()[1].message.find("without a name"), std::string::npos);
}

TEST_F(RegistryTest, ExactlyOneIntegrationPerReceiver) {
  Parse(R"(receivers:
  - name: none
  - name: two
    log: {}
    file: {path: x}
  - name: later
    teams: {url: http://x}
)");
  ASSERT_EQ(problems_.list().size(), 3u) << AllProblems();
  const std::string& none = problems_.list()[0].message;
  EXPECT_NE(none.find("needs one integration key (file, log, "), std::string::npos) << none;
  EXPECT_NE(none.find("sms"), std::string::npos) << none;
  EXPECT_NE(problems_.list()[1].message.find("more than one integration"), std::string::npos);
  // An integration that does not exist yet is an unknown key.
  EXPECT_NE(problems_.list()[2].message.find("unknown key \"teams\""), std::string::npos);
}

TEST_F(RegistryTest, WebhookSettingsAreValidatedWithoutPrintingSecrets) {
  Parse(R"(receivers:
  - name: a
    webhook: {}
  - name: b
    webhook: {url: 'ftp://token-1234@example.com', max_alerts: -1, timeout: 0s}
  - name: c
    webhook: {url: {env: LW_TEST_SURELY_UNSET_VAR}, headers: {'Bad Name': x}}
  - name: d
    webhook: {url: 'http://x', hmac_secret: ''}
  - name: e
    webhook: {url: 'http://x', send_resolved: false}
    send_resolved: true
)");
  const std::string all = AllProblems();
  EXPECT_NE(all.find("config.yaml:3:14: receiver \"a\" webhook: url is required"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("url must start with http:// or https://"), std::string::npos) << all;
  EXPECT_EQ(all.find("token-1234"), std::string::npos) << all;
  EXPECT_NE(all.find("max_alerts must be 0 (no limit) or more"), std::string::npos) << all;
  EXPECT_NE(all.find("timeout must be above 0"), std::string::npos) << all;
  EXPECT_NE(all.find("LW_TEST_SURELY_UNSET_VAR is not set"), std::string::npos) << all;
  EXPECT_NE(all.find("invalid header name \"Bad Name\""), std::string::npos) << all;
  EXPECT_NE(all.find("hmac_secret must not be empty"), std::string::npos) << all;
  EXPECT_NE(all.find("send_resolved is set twice with different values"), std::string::npos) << all;
}

TEST_F(RegistryTest, FileAndLogSettingsAreValidated) {
  Parse(R"(receivers:
  - name: f
    file: {}
  - name: g
    file: alerts.jsonl
  - name: l
    log: {level: debug}
  - name: r
    log: {}
    rate_limit: {per_second: 0, burst: 0}
)");
  const std::string all = AllProblems();
  EXPECT_NE(all.find("receiver \"f\" file: path is required"), std::string::npos) << all;
  EXPECT_NE(all.find("receiver \"g\" file must be a mapping with path"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown key \"level\" in receiver \"l\""), std::string::npos) << all;
  EXPECT_NE(all.find("per_second must be a number above 0"), std::string::npos) << all;
  EXPECT_NE(all.find("burst must be at least 1"), std::string::npos) << all;
}

// Adding an integration is one factory plus one Register line.
class CountingNotifier final : public Notifier {
 public:
  explicit CountingNotifier(std::string channel) : channel_(std::move(channel)) {}
  const std::string& integration() const override {
    static const std::string kName = "pager";
    return kName;
  }
  SendResult Send(const Notification&) override { return SendResult::Ok(); }
  std::optional<RateLimit> DefaultRateLimit() const override { return RateLimit{2, 5}; }
  std::string channel_;
};

TEST_F(RegistryTest, NewIntegrationIsOneFactoryAndOneRegistryLine) {
  NotifierRegistry registry;
  registry.Register("pager", [](const YAML::Node& spec, const ReceiverContext& ctx) {
    ctx.CheckKeys(spec, {"channel"});
    return std::make_unique<CountingNotifier>(spec["channel"].as<std::string>(""));
  });
  auto rs = Parse(R"(receivers:
  - name: p
    pager: {channel: ops, send_resolved: false}
  - name: q
    pager: {chanel: ops}
)",
                  registry);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].integration, "pager");
  EXPECT_FALSE(rs[0].send_resolved);
  ASSERT_TRUE(rs[0].rate_limit.has_value());  // the integration's default limit
  EXPECT_EQ(rs[0].rate_limit->burst, 5);
  ASSERT_EQ(problems_.list().size(), 1u) << AllProblems();
  EXPECT_NE(problems_.list()[0].message.find("did you mean \"channel\""), std::string::npos);
}

TEST_F(RegistryTest, SecretsComeFromEnvAndFiles) {
  ::setenv("LW_TEST_WEBHOOK_URL", "http://127.0.0.1:9/from-env", 1);
  {
    std::ofstream f(dir_.File("hmac"));
    f << "s3cret\n";
  }
  auto rs = Parse(R"(receivers:
  - name: hooks
    webhook:
      url: {env: LW_TEST_WEBHOOK_URL}
      hmac_secret: {file: hmac}
      headers: {Authorization: {env: LW_TEST_WEBHOOK_URL}}
)");
  ::unsetenv("LW_TEST_WEBHOOK_URL");
  EXPECT_TRUE(problems_.empty()) << AllProblems();
  EXPECT_EQ(rs.size(), 1u);
}

}  // namespace
}  // namespace linkwatch::notifiers
