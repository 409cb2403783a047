#include "agent/net/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/core/time_format.h"
#include "tests/fakes/http_receiver.h"

namespace linkwatch::net {
namespace {

using fakes::HttpReceiver;

// A loopback port nobody listens on.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(HttpClientTest, PostsBodyAndHeadersAndReadsTheAnswer) {
  HttpReceiver server;
  server.Push(202, {{"Retry-After", "7"}, {"X-Id", "abc"}}, "accepted");
  HttpClient client;
  OutboundRequest req;
  req.url = server.Url("/alerts?x=1");
  req.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer t"}};
  req.body = R"({"a":1})";
  OutboundResponse r = client.Send(req);
  ASSERT_TRUE(r.answered()) << r.error_message;
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "accepted");
  EXPECT_EQ(r.Header("x-id"), "abc");
  EXPECT_EQ(r.Header("retry-after"), "7");
  EXPECT_FALSE(r.Header("missing").has_value());

  auto got = server.Requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/alerts?x=1");
  EXPECT_EQ(got[0].body, R"({"a":1})");
  EXPECT_EQ(got[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(got[0].Header("Authorization"), "Bearer t");
  EXPECT_FALSE(got[0].Header("Expect").has_value());
}

TEST(HttpClientTest, ReusesTheClientForSeveralRequests) {
  HttpReceiver server;
  server.Push(500);
  HttpClient client;
  OutboundRequest req;
  req.url = server.Url();
  req.body = std::string(5000, 'x');  // large enough that curl would send Expect
  EXPECT_EQ(client.Send(req).status, 500);
  EXPECT_EQ(client.Send(req).status, 200);
  ASSERT_EQ(server.Count(), 2u);
  EXPECT_EQ(server.Requests()[1].body.size(), 5000u);
}

// A 2xx body larger than kMaxBody reaches on_body whole, in chunks, and is
// not kept; an error answer's body is kept as usual; a reader that stops
// ends the transfer with a transport error, and the client goes on.
TEST(HttpClientTest, StreamsALargeBodyToItsReader) {
  HttpReceiver server;
  std::string big;
  for (int i = 0; big.size() < 3 * OutboundResponse::kMaxBody; ++i) {
    big += "{\"row\":" + std::to_string(i) + "},";
  }
  server.Push(200, {}, big);
  server.Push(503, {}, R"({"error":{"code":"0x8005f103","message":"busy"}})");
  server.Push(200, {}, big);
  server.Push(200, {}, "after");
  HttpClient client;
  OutboundRequest req;
  req.method = "GET";
  req.url = server.Url("/api/data/v9.2/accounts");
  std::string got;
  int chunks = 0;
  req.on_body = [&](std::string_view chunk) {
    got.append(chunk);
    ++chunks;
    return true;
  };
  OutboundResponse r = client.Send(req);
  ASSERT_TRUE(r.answered()) << r.error_message;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(got, big);
  EXPECT_GT(chunks, 1);
  EXPECT_TRUE(r.body.empty());

  got.clear();
  r = client.Send(req);
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(got.empty());
  EXPECT_NE(r.body.find("0x8005f103"), std::string::npos);

  req.on_body = [&](std::string_view) { return false; };
  r = client.Send(req);
  EXPECT_FALSE(r.answered());
  EXPECT_EQ(r.error, OutboundResponse::Error::kTransport);
  EXPECT_EQ(r.error_message, "stopped by the reader of the body");

  req.on_body = nullptr;
  r = client.Send(req);
  ASSERT_TRUE(r.answered()) << r.error_message;
  EXPECT_EQ(r.body, "after");
}

TEST(HttpClientTest, SlowServerTimesOut) {
  HttpReceiver server;
  server.Push(fakes::ScriptedResponse{200, {}, {}, std::chrono::seconds(5)});
  HttpClient client;
  OutboundRequest req;
  req.url = server.Url();
  req.timeout = Millis(150);
  const auto start = std::chrono::steady_clock::now();
  OutboundResponse r = client.Send(req);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(r.error, OutboundResponse::Error::kTimeout);
}

TEST(HttpClientTest, RefusedConnectionIsARetryableTransportError) {
  HttpClient client;
  OutboundRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/secret-path-token";
  OutboundResponse r = client.Send(req);
  EXPECT_EQ(r.error, OutboundResponse::Error::kTransport);
  EXPECT_EQ(r.error_message.find("secret-path-token"), std::string::npos);
}

TEST(HttpClientTest, ParsesRetryAfterSecondsAndHttpDate) {
  const TimePoint now = FromEpochSeconds(*ParseDateTime("2015-10-21T07:27:00Z"));
  EXPECT_EQ(ParseRetryAfter("120", now), Millis(120000));
  EXPECT_EQ(ParseRetryAfter(" 7 ", now), Millis(7000));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now), Millis(60000));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), Millis(0));
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
}

}  // namespace
}  // namespace linkwatch::net
