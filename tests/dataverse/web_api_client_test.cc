#include "agent/dataverse/web_api_client.h"

#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/fakes/http_receiver.h"

namespace linkwatch::dataverse {
namespace {

using fakes::HttpReceiver;
using fakes::ScriptedResponse;

constexpr const char* kSecret = "client-s3cret";

std::string TokenAnswer(const std::string& token) {
  return R"({"token_type":"Bearer","expires_in":3600,"access_token":")" + token + "\"}";
}

class WebApiClientTest : public ::testing::Test {
 protected:
  WebApiSettings Settings() {
    WebApiSettings s;
    s.url = server_.Url("");  // both the environment and the authority
    s.entra.authority = server_.Url("");
    s.entra.tenant_id = "tenant";
    s.entra.client_id = "client";
    s.entra.client_secret = Secret::Plain(kSecret);
    s.page_size = 2;
    s.backoff.jitter = false;
    s.backoff.base = Millis(1000);
    return s;
  }
  // A page of rows {"id": n} for each n, linking to `next` when not empty.
  std::string Page(std::vector<int> ids, const std::string& next, const std::string& delta = "") {
    nlohmann::json page = {{"@odata.context", server_.Url("/api/data/v9.2/$metadata#things")}};
    page["value"] = nlohmann::json::array();
    for (int id : ids) page["value"].push_back({{"id", id}});
    if (!next.empty()) page["@odata.nextLink"] = next;
    if (!delta.empty()) page["@odata.deltaLink"] = delta;
    return page.dump();
  }
  std::vector<std::string> ReadAll(WebApiClient& client, const std::string& target,
                                   Result<ODataPageEnd>* end_out = nullptr, bool track = false) {
    std::vector<std::string> ids;
    size_t page_start = 0;
    PageReader reader;
    reader.row = [&](const ODataRow& row) {
      ids.push_back(row.Find("id")->text);
      return Status::Ok();
    };
    reader.restart_page = [&] { ids.resize(page_start); };
    reader.page_done = [&](const ODataPageEnd&) {
      page_start = ids.size();
      return Status::Ok();
    };
    auto end = client.GetPages(target, track, reader);
    if (end_out != nullptr) *end_out = end;
    return ids;
  }

  HttpReceiver server_;
  ManualClock clock_{TimePoint(std::chrono::hours(24 * 20000))};
};

TEST_F(WebApiClientTest, FollowsNextLinksUnchangedWithTheODataHeaders) {
  const std::string next =
      server_.Url("/api/data/v9.2/things?$select=id&$skiptoken=%3Ccookie%20p=%222%22/%3E");
  server_.Push(200, {}, TokenAnswer("tok-1"));
  server_.Push(200, {}, Page({1, 2}, next));
  server_.Push(200, {}, Page({3}, "", server_.Url("/api/data/v9.2/things?$deltatoken=77%2101")));
  WebApiClient client(Settings(), clock_);
  Result<ODataPageEnd> end = Status::Error("not run");
  auto ids = ReadAll(client, "things?$select=id", &end, /*track=*/true);
  ASSERT_TRUE(end.ok()) << end.message();
  EXPECT_EQ(ids, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(end->rows, 3u);
  EXPECT_EQ(end->delta_link, server_.Url("/api/data/v9.2/things?$deltatoken=77%2101"));
  EXPECT_EQ(client.requests(), 3);
  auto reqs = server_.Requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].target, "/tenant/oauth2/v2.0/token");
  EXPECT_EQ(reqs[1].method, "GET");
  EXPECT_EQ(reqs[1].target, "/api/data/v9.2/things?$select=id");
  EXPECT_EQ(reqs[2].target,
            "/api/data/v9.2/things?$select=id&$skiptoken=%3Ccookie%20p=%222%22/%3E");
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(reqs[i].Header("Authorization"), "Bearer tok-1");
    EXPECT_EQ(reqs[i].Header("Accept"), "application/json");
    EXPECT_EQ(reqs[i].Header("OData-MaxVersion"), "4.0");
    EXPECT_EQ(reqs[i].Header("OData-Version"), "4.0");
    EXPECT_EQ(reqs[i].Header("Prefer"), "odata.maxpagesize=2,odata.track-changes");
  }
}

TEST_F(WebApiClientTest, A429WaitsItsRetryAfterAndA503BacksOff) {
  server_.Push(200, {}, TokenAnswer("tok"));
  server_.Push(429, {{"Retry-After", "7"}},
               R"({"error":{"code":"0x80072322","message":"Number of requests exceeded"}})");
  server_.Push(503, {}, "<html>busy</html>");
  server_.Push(200, {}, Page({1}, ""));
  WebApiClient client(Settings(), clock_);
  const TimePoint t0 = clock_.Now();
  auto run = std::async(std::launch::async, [&] { return ReadAll(client, "things"); });
  // Retry-After: 7 s, exactly.
  ASSERT_TRUE(clock_.AwaitDeadline(t0 + std::chrono::seconds(7)));
  EXPECT_EQ(server_.Count(), 2u);
  clock_.Advance(std::chrono::seconds(7));
  // Then the 503: the first backoff step, 1 s (jitter off).
  ASSERT_TRUE(clock_.AwaitDeadline(t0 + std::chrono::seconds(8)));
  EXPECT_EQ(server_.Count(), 3u);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(run.get(), (std::vector<std::string>{"1"}));
  EXPECT_EQ(client.throttled(), 1);
  EXPECT_EQ(client.retries(), 2);
}

TEST_F(WebApiClientTest, GivesUpOn5xxAfterItsAttemptsNamingTheRequestAndDataversesError) {
  auto settings = Settings();
  settings.max_attempts = 2;
  settings.backoff.base = Millis(0);
  server_.Push(200, {}, TokenAnswer("tok"));
  server_.SetDefault(
      {503, {}, R"({"error":{"code":"0x80040216","message":"Generic SQL error."}})"});
  WebApiClient client(settings, clock_);
  Result<ODataPageEnd> end = Status::Error("not run");
  ReadAll(client, "synapselinkprofiles?$select=name", &end);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.message(),
            "GET synapselinkprofiles: HTTP 503: Generic SQL error. (0x80040216) (gave up after 2 "
            "attempts)");
}

TEST_F(WebApiClientTest, A4xxIsAnErrorAtOnceWithDataversesMessage) {
  server_.Push(200, {}, TokenAnswer("tok"));
  server_.Push(400, {},
               R"({"error":{"code":"0x0","message":"Could not find a property named 'foo'."}})");
  WebApiClient client(Settings(), clock_);
  Result<ODataPageEnd> end = Status::Error("not run");
  ReadAll(client, "things?$select=foo", &end);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.message(), "GET things: HTTP 400: Could not find a property named 'foo'. (0x0)");
  EXPECT_EQ(server_.Count(), 2u);
}

TEST_F(WebApiClientTest, A401RefreshesTheTokenOnce) {
  server_.Push(200, {}, TokenAnswer("old"));
  server_.Push(401, {}, R"({"error":{"code":"0x80072560","message":"expired"}})");
  server_.Push(200, {}, TokenAnswer("new"));
  server_.Push(200, {}, Page({5}, ""));
  WebApiClient client(Settings(), clock_);
  EXPECT_EQ(ReadAll(client, "things"), (std::vector<std::string>{"5"}));
  auto reqs = server_.Requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[1].Header("Authorization"), "Bearer old");
  EXPECT_EQ(reqs[3].Header("Authorization"), "Bearer new");
}

TEST_F(WebApiClientTest, APageCutShortIsReadAgainWholeAndItsRowsForgotten) {
  auto settings = Settings();
  settings.backoff.base = Millis(0);
  server_.Push(200, {}, TokenAnswer("tok"));
  const std::string next = server_.Url("/api/data/v9.2/things?$skiptoken=2");
  server_.Push(200, {}, Page({1, 2}, next));
  // Page 2 breaks off after its first row: the Content-Length promises more.
  const std::string page2 = Page({3, 4}, "");
  ScriptedResponse cut{200, {}, page2};
  cut.cut_body_at = page2.find("{\"id\":4}");
  server_.Push(cut);
  server_.Push(200, {}, page2);
  WebApiClient client(settings, clock_);
  Result<ODataPageEnd> end = Status::Error("not run");
  auto ids = ReadAll(client, "things", &end);
  ASSERT_TRUE(end.ok()) << end.message();
  EXPECT_EQ(ids, (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(client.retries(), 1);
}

TEST_F(WebApiClientTest, AMalformedPageIsAnErrorNamingThePage) {
  server_.Push(200, {}, TokenAnswer("tok"));
  server_.Push(200, {}, Page({1}, server_.Url("/api/data/v9.2/things?$skiptoken=2")));
  server_.Push(200, {}, R"({"value":[{"id":2},{"id":)");
  WebApiClient client(Settings(), clock_);
  Result<ODataPageEnd> end = Status::Error("not run");
  ReadAll(client, "things", &end);
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.message().find("GET things, page 2: the answer ends early"), std::string::npos)
      << end.message();
  server_.Push(200, {}, "<html>not json</html>");
  ReadAll(client, "things", &end);
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.message().find("GET things: malformed JSON at byte 0"), std::string::npos)
      << end.message();
}

TEST_F(WebApiClientTest, ALinkOutsideTheEnvironmentIsNotFollowed) {
  server_.Push(200, {}, TokenAnswer("tok"));
  server_.Push(200, {}, Page({1}, "https://evil.example/api/data/v9.2/things?$skiptoken=2"));
  WebApiClient client(Settings(), clock_);
  Result<ODataPageEnd> end = Status::Error("not run");
  ReadAll(client, "things", &end);
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.message().find("the link points outside"), std::string::npos) << end.message();
  EXPECT_EQ(server_.Count(), 2u);  // the token went nowhere else
}

TEST_F(WebApiClientTest, ATokenThatCannotBeHadIsAnErrorWithoutTheSecret) {
  server_.Push(
      401, {},
      R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."})");
  WebApiClient client(Settings(), clock_);
  Result<ODataPageEnd> end = Status::Error("not run");
  ReadAll(client, "things", &end);
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.message().find("AADSTS7000215"), std::string::npos) << end.message();
  EXPECT_EQ(end.message().find(kSecret), std::string::npos);
}

TEST_F(WebApiClientTest, StopEndsAWaitAtOnce) {
  server_.Push(200, {}, TokenAnswer("tok"));
  server_.Push(429, {{"Retry-After", "100"}}, "");
  WebApiClient client(Settings(), clock_);
  auto run = std::async(std::launch::async, [&] {
    Result<ODataPageEnd> end = Status::Error("not run");
    ReadAll(client, "things", &end);
    return end;
  });
  ASSERT_TRUE(clock_.AwaitWaiters(1));
  client.Stop();
  auto end = run.get();
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.message(), "GET things: stopped");
}

TEST_F(WebApiClientTest, GetDocumentReadsOneJsonAnswer) {
  server_.Push(200, {}, TokenAnswer("tok"));
  server_.Push(200, {}, R"({"EntityRecordCountCollection":{"Keys":["account"],"Values":[42]}})");
  WebApiClient client(Settings(), clock_);
  auto doc = client.GetDocument("RetrieveTotalRecordCount(EntityNames=['account'])");
  ASSERT_TRUE(doc.ok()) << doc.message();
  EXPECT_EQ((*doc)["EntityRecordCountCollection"]["Values"][0], 42);
  server_.Push(200, {}, std::string(2000, ' ') + "{}");
  auto big = client.GetDocument("x", 1000);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.message().find("larger than 1000 bytes"), std::string::npos) << big.message();
}

}  // namespace
}  // namespace linkwatch::dataverse
