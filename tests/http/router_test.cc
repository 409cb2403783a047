#include "agent/http/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace linkwatch::http {
namespace {

Handler Say(std::string what) {
  return [what](const HttpRequest&) { return HttpResponse::Text(200, what); };
}

HttpResponse Serve(const Router& router, std::string method, std::string path,
                   HttpRequest* out = nullptr) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  HttpResponse resp = router.Dispatch(r);
  if (out != nullptr) *out = r;
  return resp;
}

std::string ErrorOf(const HttpResponse& r) {
  return nlohmann::json::parse(r.body).at("error").get<std::string>();
}

TEST(RouterTest, LiteralBeatsParameterBeatsWildcard) {
  Router router;
  router.Add("GET", "/static/*", Say("rest"));
  router.Add("GET", "/api/v1/silences/{id}", Say("param"));
  router.Add("GET", "/api/v1/silences/count", Say("literal"));
  EXPECT_EQ(Serve(router, "GET", "/api/v1/silences/count").body, "literal");
  HttpRequest seen;
  EXPECT_EQ(Serve(router, "GET", "/api/v1/silences/abc-123", &seen).body, "param");
  EXPECT_EQ(seen.Param("id"), "abc-123");
  EXPECT_EQ(Serve(router, "GET", "/static/css/site.css", &seen).body, "rest");
  EXPECT_EQ(seen.Param("*"), "css/site.css");
  EXPECT_EQ(Serve(router, "GET", "/static", &seen).body, "rest");
  EXPECT_EQ(seen.Param("*"), "");
  // A parameter needs a non-empty segment; extra segments do not match.
  EXPECT_EQ(Serve(router, "GET", "/api/v1/silences/").status, 404);
  EXPECT_EQ(Serve(router, "GET", "/api/v1/silences/a/b").status, 404);
}

TEST(RouterTest, RootAndCatchAll) {
  Router router;
  router.Add("GET", "/", Say("root"));
  router.Add("GET", "/*", Say("any"));
  EXPECT_EQ(Serve(router, "GET", "/").body, "root");
  EXPECT_EQ(Serve(router, "GET", "/x/y").body, "any");
}

TEST(RouterTest, UnknownPathIs404Json) {
  Router router;
  router.Add("GET", "/healthz", Say("ok"));
  HttpResponse r = Serve(router, "GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(ErrorOf(r), "no such path: /nope");
}

TEST(RouterTest, WrongMethodIs405WithAllow) {
  Router router;
  router.Add("GET", "/api/v1/silences", Say("list"));
  router.Add("POST", "/api/v1/silences", Say("add"));
  HttpResponse r = Serve(router, "DELETE", "/api/v1/silences");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_FALSE(ErrorOf(r).empty());
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], std::make_pair(std::string("Allow"), std::string("GET, HEAD, POST")));
  EXPECT_EQ(Serve(router, "POST", "/api/v1/silences").body, "add");
}

TEST(RouterTest, HeadIsServedByGet) {
  Router router;
  router.Add("GET", "/metrics", Say("m"));
  EXPECT_EQ(Serve(router, "HEAD", "/metrics").body, "m");  // the server drops the body
}

TEST(RouterTest, ThrowingHandlerGives500) {
  Router router;
  router.Add("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("database is locked");
  });
  router.Add("GET", "/int", [](const HttpRequest&) -> HttpResponse { throw 42; });
  HttpResponse r = Serve(router, "GET", "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(ErrorOf(r), "internal server error");  // no internals leak out
  EXPECT_EQ(Serve(router, "GET", "/int").status, 500);
}

TEST(RouterTest, BadPatternsAreRejected) {
  Router router;
  EXPECT_THROW(router.Add("GET", "healthz", Say("")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/a/*/b", Say("")), std::invalid_argument);
}

}  // namespace
}  // namespace linkwatch::http
