#include "agent/net/entra_token.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "agent/core/text.h"
#include "tests/fakes/http_receiver.h"

namespace linkwatch::net {
namespace {

using fakes::HttpReceiver;

constexpr const char* kSecret = "s3cr&t=+/value";

// application/x-www-form-urlencoded, decoded (an independent reading of the
// body: %XX and '+' as space).
std::map<std::string, std::string> ParseForm(const std::string& body) {
  std::map<std::string, std::string> out;
  const auto decode = [](std::string_view s) {
    std::string r;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        r += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        r += s[i] == '+' ? ' ' : s[i];
      }
    }
    return r;
  };
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    std::string_view pair(body.data() + start, end - start);
    size_t eq = pair.find('=');
    out[decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    start = end + 1;
  }
  return out;
}

std::string TokenAnswer(const std::string& token, const std::string& expires_in = "3600") {
  return R"({"token_type":"Bearer","expires_in":)" + expires_in + R"(,"ext_expires_in":3600,)" +
         R"("access_token":")" + token + "\"}";
}

class EntraTokenTest : public ::testing::Test {
 protected:
  EntraSettings Settings() {
    EntraSettings s;
    s.authority = server_.Url("/");  // a trailing slash is tolerated
    s.tenant_id = "contoso-tenant";
    s.client_id = "11111111-2222-3333-4444-555555555555";
    s.client_secret = Secret::Plain(kSecret);
    s.scope = "https://org.crm.dynamics.com/.default";
    return s;
  }

  HttpReceiver server_;
  HttpClient client_;
  ManualClock clock_{FromEpochSeconds(1767225600)};
};

TEST_F(EntraTokenTest, FetchesByClientCredentialsAndCachesUntilNearExpiry) {
  server_.Push(200, {{"Content-Type", "application/json"}}, TokenAnswer("tok1"));
  server_.Push(200, {{"Content-Type", "application/json"}}, TokenAnswer("tok2", "\"3599\""));
  EntraToken entra(Settings(), client_, clock_);
  EXPECT_EQ(entra.TokenUrl(), server_.Url("/contoso-tenant/oauth2/v2.0/token"));
  auto t = entra.Get();
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(*t, "tok1");
  auto got = server_.Requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/contoso-tenant/oauth2/v2.0/token");
  EXPECT_EQ(got[0].Header("Content-Type"), "application/x-www-form-urlencoded");
  const auto form = ParseForm(got[0].body);
  EXPECT_EQ(form.at("grant_type"), "client_credentials");
  EXPECT_EQ(form.at("client_id"), "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(form.at("client_secret"), kSecret);
  EXPECT_EQ(form.at("scope"), "https://org.crm.dynamics.com/.default");

  // Cached while more than five minutes are left.
  clock_.Advance(std::chrono::minutes(54));
  ASSERT_EQ(*entra.Get(), "tok1");
  EXPECT_EQ(server_.Count(), 1u);
  clock_.Advance(std::chrono::minutes(2));  // 4 minutes left: refreshed
  t = entra.Get();
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(*t, "tok2");  // expires_in as a string (Entra's v1.0 form) is read too
  EXPECT_EQ(server_.Count(), 2u);
}

TEST_F(EntraTokenTest, A401RefreshesTheTokenOnceAndSendsAgain) {
  server_.Push(200, {}, TokenAnswer("tok1"));
  server_.Push(401, {}, R"({"error":{"code":"0x80072560","message":"expired"}})");
  server_.Push(200, {}, TokenAnswer("tok2"));
  server_.Push(200, {}, R"({"value":[]})");
  EntraToken entra(Settings(), client_, clock_);
  OutboundRequest req;
  req.method = "GET";
  req.url = server_.Url("/api/data/v9.2/synapselinkprofiles");
  req.headers = {{"Accept", "application/json"}};
  auto res = entra.SendAuthorized(req);
  ASSERT_TRUE(res.ok()) << res.message();
  EXPECT_EQ(res->status, 200);
  auto got = server_.Requests();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].Header("Authorization"), "Bearer tok1");
  EXPECT_EQ(got[3].Header("Authorization"), "Bearer tok2");
  EXPECT_EQ(got[3].Header("Accept"), "application/json");

  // Refused again after the refresh: the 401 is the answer (one retry only).
  server_.Push(401, {}, "");
  server_.Push(200, {}, TokenAnswer("tok3"));
  server_.Push(401, {}, "");
  res = entra.SendAuthorized(req);
  ASSERT_TRUE(res.ok()) << res.message();
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(server_.Count(), 7u);
}

TEST_F(EntraTokenTest, ErrorsNameTheEndpointAndEntrasReasonButNoSecret) {
  server_.Push(401, {},
               std::string(R"({"error":"invalid_client","error_description":"AADSTS7000215: )"
                           R"(Invalid client secret provided: )") +
                   kSecret + R"(\r\nTrace ID: 1\r\nCorrelation ID: 2","error_codes":[7000215]})");
  EntraToken entra(Settings(), client_, clock_);
  auto t = entra.Get();
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.message().find("/contoso-tenant/oauth2/v2.0/token"), std::string::npos)
      << t.message();
  EXPECT_NE(t.message().find("HTTP 401: invalid_client: AADSTS7000215"), std::string::npos)
      << t.message();
  EXPECT_EQ(t.message().find(kSecret), std::string::npos) << t.message();
  EXPECT_EQ(t.message().find("Trace ID"), std::string::npos) << t.message();

  server_.Push(429, {{"Retry-After", "7"}}, "");
  t = entra.Get();
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.message().find("HTTP 429 (Retry-After: 7)"), std::string::npos) << t.message();
}

TEST_F(EntraTokenTest, MalformedAnswersAreErrors) {
  const std::pair<std::string, std::string> cases[] = {
      {"not json", "not a JSON object"},
      {R"({"token_type":"Bearer","expires_in":3600})", "no access_token"},
      {R"({"token_type":"MAC","expires_in":3600,"access_token":"x"})", "no token_type"},
      {R"({"token_type":"Bearer","access_token":"x"})", "no usable expires_in"},
      {R"({"token_type":"Bearer","expires_in":"soon","access_token":"x"})", "no usable expires_in"},
      {R"({"token_type":"Bearer","expires_in":-5,"access_token":"x"})", "no usable expires_in"},
      {R"({"token_type":"Bearer","expires_in":3600,"access_token":"x")", "not a JSON object"},
  };
  for (const auto& [body, want] : cases) {
    server_.Push(200, {}, body);
    EntraToken entra(Settings(), client_, clock_);
    auto t = entra.Get();
    ASSERT_FALSE(t.ok()) << body;
    EXPECT_NE(t.message().find(want), std::string::npos) << body << " -> " << t.message();
  }
}

TEST_F(EntraTokenTest, AnUnreachableAuthorityIsAnError) {
  EntraSettings s = Settings();
  server_.Stop();
  EntraToken entra(s, client_, clock_);
  auto t = entra.Get();
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.message().find("token request to"), std::string::npos) << t.message();
  EXPECT_EQ(t.message().find(kSecret), std::string::npos) << t.message();
}

}  // namespace
}  // namespace linkwatch::net
