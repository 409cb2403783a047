#include "agent/http/http_types.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/core/secret.h"

namespace linkwatch::http {
namespace {

TEST(HttpTypesTest, HeadersAreLookedUpCaseInsensitively) {
  HttpRequest r;
  r.headers.emplace("Content-Type", "application/json");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("CONTENT-TYPE"), "application/json");
  EXPECT_TRUE(r.HasHeader("content-TYPE"));
  EXPECT_EQ(r.Header("Accept"), "");
}

TEST(HttpTypesTest, ParseTargetDecodesPathAndQuery) {
  std::string path;
  std::map<std::string, std::string> query;
  ASSERT_TRUE(ParseTarget("/api/v1/silences/a%20b?state=dead&x=1+2&x=3&flag&e=%3D", &path, &query));
  EXPECT_EQ(path, "/api/v1/silences/a b");
  EXPECT_EQ(query["state"], "dead");
  EXPECT_EQ(query["x"], "1 2");  // first value wins
  EXPECT_EQ(query.count("flag"), 1u);
  EXPECT_EQ(query["e"], "=");
  EXPECT_FALSE(ParseTarget("http://example.com/", &path, &query));
  EXPECT_FALSE(ParseTarget("", &path, &query));
  EXPECT_FALSE(ParseTarget("/a%zz", &path, &query));
  EXPECT_FALSE(ParseTarget("/a%4", &path, &query));
  EXPECT_FALSE(ParseTarget("/a?b=%", &path, &query));
}

TEST(HttpTypesTest, ErrorIsJsonWithEscaping) {
  HttpResponse r = HttpResponse::Error(400, "bad \"x\"\n\xff");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"].get<std::string>().substr(0, 9), "bad \"x\"\n\xef");
}

HttpRequest WithAuth(const std::string& value) {
  HttpRequest r;
  r.headers.emplace("Authorization", value);
  return r;
}

TEST(HttpTypesTest, CheckBearerAcceptsOnlyTheExactToken) {
  const Secret token = Secret::Plain("s3cret-token");
  EXPECT_TRUE(CheckBearer(WithAuth("Bearer s3cret-token"), token));
  EXPECT_TRUE(CheckBearer(WithAuth("bearer s3cret-token"), token));
  EXPECT_FALSE(CheckBearer(WithAuth("Bearer s3cret-tokem"), token));
  EXPECT_FALSE(CheckBearer(WithAuth("Bearer s3cret-token2"), token));
  EXPECT_FALSE(CheckBearer(WithAuth("Bearer s3cret"), token));
  EXPECT_FALSE(CheckBearer(WithAuth("Basic czNjcmV0LXRva2Vu"), token));
  EXPECT_FALSE(CheckBearer(WithAuth("Bearer "), token));
  EXPECT_FALSE(CheckBearer(HttpRequest{}, token));
}

TEST(HttpTypesTest, CheckBearerRefusesEverythingWithoutAConfiguredToken) {
  EXPECT_FALSE(CheckBearer(WithAuth("Bearer "), Secret()));
  EXPECT_FALSE(CheckBearer(WithAuth("Bearer"), Secret()));
  EXPECT_FALSE(CheckBearer(HttpRequest{}, Secret()));
}

TEST(HttpTypesTest, UnauthorizedIsA401JsonWithChallenge) {
  HttpResponse r = Unauthorized();
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(nlohmann::json::parse(r.body).contains("error"));
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
}

}  // namespace
}  // namespace linkwatch::http
