#include "agent/http/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/http/test_client.h"

namespace linkwatch::http {
namespace {

using std::chrono::milliseconds;
using testing::Request;
using testing::TestConnection;
using Steady = std::chrono::steady_clock;

std::string ErrorOf(const testing::ClientResponse& r) {
  return nlohmann::json::parse(r.body).at("error").get<std::string>();
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>("127.0.0.1:0", options);
    server_->Handle("GET", "/hello",
                    [](const HttpRequest&) { return HttpResponse::Text(200, "hello"); });
    server_->Handle("POST", "/echo", [](const HttpRequest& r) {
      HttpResponse resp = HttpResponse::Text(200, std::to_string(r.body.size()));
      resp.headers.emplace_back("X-Content-Type-Seen", r.Header("content-type"));
      return resp;
    });
    server_->Handle("GET", "/items/{id}", [](const HttpRequest& r) {
      return HttpResponse::Text(200, r.Param("id") + "|" + r.Query("q", "-"));
    });
    server_->Handle("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("handler bug");
    });
    server_->Handle("GET", "/together", [this](const HttpRequest&) {
      // Answers "together" only if another request is in its handler at the
      // same time: proof that requests are served concurrently.
      std::unique_lock lock(mu_);
      ++together_;
      cv_.notify_all();
      const bool both =
          cv_.wait_for(lock, std::chrono::seconds(10), [this] { return together_ >= 2; });
      return HttpResponse::Text(200, both ? "together" : "alone");
    });
    server_->Handle("GET", "/block", [this](const HttpRequest&) {
      std::unique_lock lock(mu_);
      blocked_ = true;
      cv_.notify_all();
      cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
      return HttpResponse::Text(200, "released");
    });
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
  }

  void TearDown() override {
    {
      std::lock_guard lock(mu_);
      released_ = true;
      cv_.notify_all();
    }
    if (server_) server_->Stop();
  }

  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  int together_ = 0;
  bool blocked_ = false;
  bool released_ = false;
};

TEST_F(HttpServerTest, BindsPortZeroAndServesConcurrentRequests) {
  StartServer();
  EXPECT_GT(port_, 0);
  // Two handlers that each wait for the other: only concurrent serving
  // (two server threads) lets both answer "together".
  auto a = std::async(std::launch::async, [&] { return Request(port_, "GET", "/together"); });
  auto b = std::async(std::launch::async, [&] { return Request(port_, "GET", "/together"); });
  auto ra = a.get(), rb = b.get();
  ASSERT_TRUE(ra && rb);
  EXPECT_EQ(ra->body, "together");
  EXPECT_EQ(rb->body, "together");

  // Many clients at once, each on its own connection.
  std::vector<std::future<bool>> clients;
  for (int c = 0; c < 8; ++c) {
    clients.push_back(std::async(std::launch::async, [this, c] {
      for (int i = 0; i < 25; ++i) {
        const std::string id = std::to_string(c) + "-" + std::to_string(i);
        auto r = Request(port_, "GET", "/items/" + id + "?q=x%20y");
        if (!r || r->status != 200 || r->body != id + "|x y") return false;
      }
      return true;
    }));
  }
  for (auto& c : clients) EXPECT_TRUE(c.get());
}

TEST_F(HttpServerTest, KeepsConnectionsAliveAndAnswersPipelinedRequests) {
  StartServer();
  TestConnection c(port_);
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r) << "request " << i << " on the same connection";
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
    EXPECT_NE(r->Header("Connection"), "close");
  }
  // Two requests in one write; answers come back in order.
  ASSERT_TRUE(
      c.Send("GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /items/2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r1 = c.Read(), r2 = c.Read();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->body, "1|-");
  EXPECT_EQ(r2->body, "2|-");
  // Connection: close is honoured.
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto last = c.Read();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->Header("Connection"), "close");
  EXPECT_TRUE(c.WaitClosed(milliseconds(5000)));
}

TEST_F(HttpServerTest, BodyOverOneMebibyteGets413) {
  StartServer();
  const std::string big(2 << 20, 'x');
  auto r = Request(port_, "POST", "/echo", big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->Header("Content-Type"), "application/json");
  EXPECT_THAT(ErrorOf(*r), ::testing::HasSubstr("larger than 1048576 bytes"));

  // Exactly 1 MiB is fine.
  auto ok = Request(port_, "POST", "/echo", std::string(1 << 20, 'y'),
                    "Content-Type: application/octet-stream\r\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, std::to_string(1 << 20));
  EXPECT_EQ(ok->Header("X-Content-Type-Seen"), "application/octet-stream");
}

TEST_F(HttpServerTest, ChunkedBodyOverTheLimitGets413) {
  StartServer();
  TestConnection c(port_);
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk(256 << 10, 'z');
  char size_line[32];
  snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  for (int i = 0; i < 8; ++i) {                                   // 2 MiB in 256 KiB chunks
    if (!c.Send(std::string(size_line) + chunk + "\r\n")) break;  // server may stop reading
  }
  c.Send("0\r\n\r\n");
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(HttpServerTest, ExpectContinueIsAnswered) {
  StartServer();
  TestConnection c(port_);
  ASSERT_TRUE(c.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  // The client waits for "100 Continue" before sending the body; Read skips it.
  ASSERT_TRUE(c.Send("abcde"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "5");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405AsJson) {
  StartServer();
  auto nf = Request(port_, "GET", "/nope");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(nf->Header("Content-Type"), "application/json");
  EXPECT_EQ(ErrorOf(*nf), "no such path: /nope");

  auto na = Request(port_, "DELETE", "/hello");
  ASSERT_TRUE(na);
  EXPECT_EQ(na->status, 405);
  EXPECT_EQ(na->Header("Content-Type"), "application/json");
  EXPECT_EQ(na->Header("Allow"), "GET, HEAD");
  EXPECT_FALSE(ErrorOf(*na).empty());
}

TEST_F(HttpServerTest, HeadAnswersWithoutBody) {
  StartServer();
  TestConnection c(port_);
  ASSERT_TRUE(
      c.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = c.Read(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Length"), "5");
  EXPECT_EQ(head->body, "");
  auto get = c.Read();  // proves no body bytes followed the HEAD answer
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, "hello");
}

TEST_F(HttpServerTest, HandlerExceptionGives500AndServerKeepsServing) {
  StartServer();
  TestConnection c(port_);
  ASSERT_TRUE(c.Send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->Header("Content-Type"), "application/json");
  EXPECT_EQ(ErrorOf(*r), "internal server error");
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));  // same connection still works
  auto again = c.Read();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "hello");
}

TEST_F(HttpServerTest, MalformedRequestsGet400Json) {
  StartServer();
  auto bad_target = [&](const std::string& raw) {
    TestConnection c(port_);
    c.Send(raw);
    return c.Read();
  };
  auto r = bad_target("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_FALSE(ErrorOf(*r).empty());
  r = bad_target("NOT-HTTP\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = bad_target("GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(HttpServerTest, OversizedHeadersGet431) {
  StartServer();
  TestConnection c(port_);
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 << 10, 'h') + "\r\n\r\n");
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
}

TEST_F(HttpServerTest, SlowlorisClientIsDisconnected) {
  HttpServerOptions options;
  options.request_timeout = milliseconds(300);
  StartServer(options);
  TestConnection c(port_);
  ASSERT_TRUE(c.connected());
  // Trickle a never-ending header one byte at a time, pausing only by
  // waiting for the server to hang up. Each byte arrives well within the
  // timeout, so only a whole-request deadline can stop this client.
  const std::string header = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  const auto start = Steady::now();
  bool closed = false;
  size_t sent = 0;
  while (!closed && Steady::now() - start < std::chrono::seconds(10)) {
    const char byte = sent < header.size() ? header[sent] : 'a';
    if (!c.Send(std::string_view(&byte, 1))) {
      closed = true;
      break;
    }
    ++sent;
    closed = c.WaitClosed(milliseconds(50));
  }
  const auto elapsed = Steady::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_LT(elapsed, std::chrono::seconds(3))
      << "disconnected only after " << std::chrono::duration_cast<milliseconds>(elapsed).count()
      << " ms";
  EXPECT_GE(elapsed, milliseconds(250));
  // The server is unharmed.
  auto r = Request(port_, "GET", "/hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions options;
  options.request_timeout = milliseconds(300);
  StartServer(options);
  TestConnection c(port_);
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.Read());
  const auto start = Steady::now();
  EXPECT_TRUE(c.WaitClosed(milliseconds(5000)));
  EXPECT_LT(Steady::now() - start, std::chrono::seconds(3));
}

TEST_F(HttpServerTest, StopFinishesRequestsInFlightAndClosesIdleConnections) {
  StartServer();
  TestConnection idle(port_);
  ASSERT_TRUE(idle.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(idle.Read());

  TestConnection busy(port_);
  ASSERT_TRUE(busy.Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  {
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [this] { return blocked_; }));
  }
  auto stopper = std::async(std::launch::async, [this] { server_->Stop(); });
  // Stop closes the idle connection at once, while the busy one waits.
  EXPECT_TRUE(idle.WaitClosed(milliseconds(5000)));
  EXPECT_EQ(stopper.wait_for(milliseconds(0)), std::future_status::timeout);
  {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  auto r = busy.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "released");
  EXPECT_EQ(r->Header("Connection"), "close");
  stopper.get();
  EXPECT_FALSE(TestConnection(port_).connected());
  server_->Stop();  // idempotent
}

TEST_F(HttpServerTest, RoutesCanBeAddedWhileServingEvenFromAHandler) {
  StartServer();
  server_->Handle("POST", "/add", [this](const HttpRequest& r) {
    const std::string what = r.body;
    server_->Handle("GET", "/added/" + what,
                    [what](const HttpRequest&) { return HttpResponse::Text(200, what); });
    return HttpResponse::Text(201, "");
  });
  auto added = Request(port_, "POST", "/add", "x");
  ASSERT_TRUE(added);
  EXPECT_EQ(added->status, 201);
  auto r = Request(port_, "GET", "/added/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "x");
}

TEST(HttpServerStartTest, RejectsBadAddressesAndBusyPorts) {
  EXPECT_FALSE(HttpServer("9464").Start().ok());
  EXPECT_FALSE(HttpServer(":9464").Start().ok());
  EXPECT_FALSE(HttpServer("127.0.0.1:99999").Start().ok());
  EXPECT_FALSE(HttpServer("::1:9464").Start().ok());
  HttpServer first("127.0.0.1:0");
  ASSERT_TRUE(first.Start().ok());
  EXPECT_FALSE(first.Start().ok());  // twice
  Status busy = HttpServer("127.0.0.1:" + std::to_string(first.port())).Start();
  EXPECT_FALSE(busy.ok());
  EXPECT_THAT(busy.message(), ::testing::HasSubstr("127.0.0.1:"));
}

TEST(HttpServerStartTest, ParsesListenAddresses) {
  auto v4 = ParseListenAddress("0.0.0.0:9464");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->first, "0.0.0.0");
  EXPECT_EQ(v4->second, 9464);
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 0);
  EXPECT_FALSE(ParseListenAddress("[::1]").ok());
  EXPECT_FALSE(ParseListenAddress("localhost:").ok());
  EXPECT_FALSE(ParseListenAddress("localhost:http").ok());
}

TEST(HttpServerStartTest, ServesOnIpv6Loopback) {
  HttpServer server("[::1]:0");
  server.Handle("GET", "/x", [](const HttpRequest&) { return HttpResponse::Text(200, "x"); });
  Status s = server.Start();
  if (!s.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << s.message();
  EXPECT_GT(server.port(), 0);
}

}  // namespace
}  // namespace linkwatch::http
