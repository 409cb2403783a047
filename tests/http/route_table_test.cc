#include "agent/http/route_table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace linkwatch::http {
namespace {

Handler Say(std::string what) {
  return [what](const HttpRequest&) { return HttpResponse::Text(200, what); };
}

HttpResponse Serve(const RouteTable& routes, std::string method, std::string path,
                   HttpRequest* out = nullptr) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  HttpResponse resp = routes.Dispatch(r);
  if (out != nullptr) *out = r;
  return resp;
}

std::string ErrorOf(const HttpResponse& r) {
  return nlohmann::json::parse(r.body).at("error").get<std::string>();
}

TEST(RouteTableTest, LiteralBeatsParameterBeatsWildcard) {
  RouteTable routes;
  routes.Add("GET", "/static/*", Say("rest"));
  routes.Add("GET", "/api/v1/silences/{id}", Say("param"));
  routes.Add("GET", "/api/v1/silences/count", Say("literal"));
  EXPECT_EQ(Serve(routes, "GET", "/api/v1/silences/count").body, "literal");
  HttpRequest seen;
  EXPECT_EQ(Serve(routes, "GET", "/api/v1/silences/abc-123", &seen).body, "param");
  EXPECT_EQ(seen.Param("id"), "abc-123");
  EXPECT_EQ(Serve(routes, "GET", "/static/css/site.css", &seen).body, "rest");
  EXPECT_EQ(seen.Param("*"), "css/site.css");
  EXPECT_EQ(Serve(routes, "GET", "/static", &seen).body, "rest");
  EXPECT_EQ(seen.Param("*"), "");
  // A parameter needs a non-empty segment; extra segments do not match.
  EXPECT_EQ(Serve(routes, "GET", "/api/v1/silences/").status, 404);
  EXPECT_EQ(Serve(routes, "GET", "/api/v1/silences/a/b").status, 404);
}

TEST(RouteTableTest, RootAndCatchAll) {
  RouteTable routes;
  routes.Add("GET", "/", Say("root"));
  routes.Add("GET", "/*", Say("any"));
  EXPECT_EQ(Serve(routes, "GET", "/").body, "root");
  EXPECT_EQ(Serve(routes, "GET", "/x/y").body, "any");
}

TEST(RouteTableTest, UnknownPathIs404Json) {
  RouteTable routes;
  routes.Add("GET", "/healthz", Say("ok"));
  HttpResponse r = Serve(routes, "GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(ErrorOf(r), "no such path: /nope");
}

TEST(RouteTableTest, WrongMethodIs405WithAllow) {
  RouteTable routes;
  routes.Add("GET", "/api/v1/silences", Say("list"));
  routes.Add("POST", "/api/v1/silences", Say("add"));
  HttpResponse r = Serve(routes, "DELETE", "/api/v1/silences");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_FALSE(ErrorOf(r).empty());
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], std::make_pair(std::string("Allow"), std::string("GET, HEAD, POST")));
  EXPECT_EQ(Serve(routes, "POST", "/api/v1/silences").body, "add");
}

TEST(RouteTableTest, HeadIsServedByGet) {
  RouteTable routes;
  routes.Add("GET", "/metrics", Say("m"));
  EXPECT_EQ(Serve(routes, "HEAD", "/metrics").body, "m");  // the server drops the body
}

TEST(RouteTableTest, ThrowingHandlerGives500) {
  RouteTable routes;
  routes.Add("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("database is locked");
  });
  routes.Add("GET", "/int", [](const HttpRequest&) -> HttpResponse { throw 42; });
  HttpResponse r = Serve(routes, "GET", "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(ErrorOf(r), "internal server error");  // no internals leak out
  EXPECT_EQ(Serve(routes, "GET", "/int").status, 500);
}

TEST(RouteTableTest, BadPatternsAreRejected) {
  RouteTable routes;
  EXPECT_THROW(routes.Add("GET", "healthz", Say("")), std::invalid_argument);
  EXPECT_THROW(routes.Add("GET", "/a/*/b", Say("")), std::invalid_argument);
}

}  // namespace
}  // namespace linkwatch::http
