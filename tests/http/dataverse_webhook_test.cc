// POST /api/v1/dataverse/webhook/{profile}: authenticated by the profile's
// webhook key (header or ?code=), answered 202 with the table poked, and
// every refusal with its own status, counted per known profile only. Also
// ParseWebhookPoke on Dataverse's RemoteExecutionContext bodies.
#include "agent/http/dataverse_webhook.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "agent/dataverse/webhook.h"
#include "agent/http/server.h"
#include "tests/http/test_client.h"

namespace linkwatch::http {
namespace {

using ::testing::HasSubstr;
using testing::Request;

constexpr const char* kKey = "wh-k3y-never-shown";

// A RemoteExecutionContext as Dataverse sends it (abridged).
std::string Context(const std::string& entity, const std::string& message = "Update") {
  return nlohmann::json{
      {"BusinessUnitId", "00000000-0000-0000-0000-000000000001"},
      {"CorrelationId", "1b6a2f3c-0000-0000-0000-000000000000"},
      {"Depth", 1},
      {"InputParameters", nlohmann::json::array({{{"key", "Target"}, {"value", {{"Id", "x"}}}}})},
      {"MessageName", message},
      {"OrganizationId", "00000000-0000-0000-0000-0000000000aa"},
      {"PrimaryEntityId", "00000000-0000-4000-8000-000000000001"},
      {"PrimaryEntityName", entity},
      {"Stage", 40}}
      .dump();
}

class DataverseWebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DataverseWebhookSources s;
    s.keys["crm"] = Secret::Plain(kKey);
    s.keys["nokey"] = Secret();
    s.sync_now = [this](const std::string& profile, const std::string& table) {
      std::lock_guard<std::mutex> lock(mu_);
      pokes_.push_back(profile + "/" + table);
      return table == "account";
    };
    s.count = [this](const std::string& profile, const std::string& result) {
      std::lock_guard<std::mutex> lock(mu_);
      counted_.push_back(profile + ":" + result);
    };
    AddDataverseWebhookRoute(server_, std::move(s));
    ASSERT_TRUE(server_.Start().ok());
    port_ = server_.port();
  }

  std::vector<std::string> Pokes() {
    std::lock_guard<std::mutex> lock(mu_);
    return pokes_;
  }
  std::vector<std::string> Counted() {
    std::lock_guard<std::mutex> lock(mu_);
    return counted_;
  }

  HttpServer server_{"127.0.0.1:0"};
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> pokes_, counted_;
};

TEST_F(DataverseWebhookTest, AKeyedCallPokesTheTableAndIsAnswered202) {
  auto r = Request(port_, "POST", "/api/v1/dataverse/webhook/crm", Context("account"),
                   std::string("x-linkwatch-key: ") + kKey + "\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["table"], "account");
  EXPECT_EQ(j["queued"], true);
  // The key in ?code= (Dataverse's "WebhookKey" authentication), a table
  // the profile does not sync (still 202: Dataverse must not retry it).
  r = Request(port_, "POST", std::string("/api/v1/dataverse/webhook/crm?code=") + kKey,
              Context("contact", "Create"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(nlohmann::json::parse(r->body)["queued"], false);
  EXPECT_EQ(Pokes(), (std::vector<std::string>{"crm/account", "crm/contact"}));
  EXPECT_EQ(Counted(), (std::vector<std::string>{"crm:accepted", "crm:unknown_table"}));
}

TEST_F(DataverseWebhookTest, ACutBodyIsReadFromTheEntityHeader) {
  auto r = Request(port_, "POST", "/api/v1/dataverse/webhook/crm", "{\"BusinessUnitId\": \"00",
                   std::string("x-linkwatch-key: ") + kKey +
                       "\r\nx-ms-dynamics-entity-name: account\r\n"
                       "x-ms-dynamics-msg-size-exceeded: true\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(Pokes(), (std::vector<std::string>{"crm/account"}));
}

TEST_F(DataverseWebhookTest, RefusalsHaveTheirOwnStatusAndNeverEchoTheKey) {
  auto wrong = Request(port_, "POST", "/api/v1/dataverse/webhook/crm", Context("account"),
                       "x-linkwatch-key: nope\r\n");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto none = Request(port_, "POST", "/api/v1/dataverse/webhook/crm", Context("account"));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto refused = Request(port_, "POST", "/api/v1/dataverse/webhook/nokey?code=", Context("a"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_THAT(refused->body, HasSubstr("has no source.webhook_key"));
  auto unknown = Request(port_, "POST", "/api/v1/dataverse/webhook/erp", Context("account"),
                         std::string("x-linkwatch-key: ") + kKey + "\r\n");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto bad = Request(port_, "POST", "/api/v1/dataverse/webhook/crm", "[1, 2]",
                     std::string("x-linkwatch-key: ") + kKey + "\r\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto hostile =
      Request(port_, "POST", "/api/v1/dataverse/webhook/crm", Context("account')?$top=1"),
              std::string("x-linkwatch-key: ") + kKey + "\r\n");
  ASSERT_TRUE(hostile);
  EXPECT_EQ(hostile->status, 400);
  for (const auto* r : {&*wrong, &*none, &*refused, &*unknown, &*bad, &*hostile}) {
    EXPECT_EQ(r->body.find(kKey), std::string::npos) << r->body;
  }
  EXPECT_TRUE(Pokes().empty());
  // Per known profile only: a path cannot mint label values.
  EXPECT_EQ(Counted(),
            (std::vector<std::string>{"crm:unauthorized", "crm:unauthorized", "nokey:refused",
                                      "crm:bad_request", "crm:bad_request"}));
}

TEST(ParseWebhookPokeTest, ReadsTheTableMessageAndIdOfARemoteExecutionContext) {
  auto p = dataverse::ParseWebhookPoke(Context("account", "Delete"), "");
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ(p->entity, "account");
  EXPECT_EQ(p->message, "Delete");
  EXPECT_EQ(p->id, "00000000-0000-4000-8000-000000000001");
  EXPECT_EQ(dataverse::ParseWebhookPoke("not json", "contact")->entity, "contact");
  EXPECT_THAT(dataverse::ParseWebhookPoke("{}", "").message(),
              HasSubstr("no PrimaryEntityName in the body nor an x-ms-dynamics-entity-name"));
  EXPECT_THAT(dataverse::ParseWebhookPoke("{\"PrimaryEntityName\": 5}", "Account").message(),
              HasSubstr("not a Dataverse logical name"));
  EXPECT_FALSE(
      dataverse::ParseWebhookPoke(std::string(dataverse::kMaxWebhookBody + 1, ' '), "account")
          .ok());
}

}  // namespace
}  // namespace linkwatch::http
