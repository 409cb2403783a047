// webhook_sink: the webhook receiver of the notification benchmarks
// (bench/notify_throughput.py). It listens on 127.0.0.1 (port 0 by default),
// prints "port <n>" once bound, then one line per request it answered:
//
//   <epoch seconds, microseconds> <status answered> <path> <key>
//
// where key names the notification by its content: each alert's `entity`
// label (or `alertname` when there is none) and status, joined by ",", so a
// re-sent notification has the key of the first. Keep-alive HTTP/1.1, one
// thread per connection (Alertmanager opens many), so the sink is not what
// limits the sender.
//
// --fail-half: the first request for each key is refused, alternately with
// 503 and with 429 + Retry-After: 1; its next request is accepted. Half of
// all requests fail, and every notification needs a retry.
//
//   build/bench/webhook_sink [--port N] [--fail-half]
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Sink {
  bool fail_half = false;
  std::mutex mu;
  std::map<std::string, int> seen;  // key -> requests so far
  long refused = 0;
};

std::string KeyOf(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("alerts") || !j["alerts"].is_array()) return "-";
  std::string key;
  for (const auto& a : j["alerts"]) {
    const auto& labels = a.value("labels", nlohmann::json::object());
    std::string name = labels.value("entity", labels.value("alertname", std::string("?")));
    if (!key.empty()) key += ",";
    key += name + "/" + a.value("status", std::string("?"));
  }
  return key.empty() ? "-" : key;
}

void Serve(Sink& sink, tcp::socket socket) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    const std::string key = KeyOf(req.body());
    http::response<http::string_body> res{http::status::ok, req.version()};
    {
      std::lock_guard lk(sink.mu);
      int n = sink.seen[key]++;
      if (sink.fail_half && n == 0) {
        if (sink.refused++ % 2 == 0) {
          res.result(http::status::service_unavailable);
        } else {
          res.result(http::status::too_many_requests);
          res.set(http::field::retry_after, "1");
        }
      }
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    http::write(socket, res, ec);
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    {
      std::lock_guard lk(sink.mu);
      std::printf("%.6f %d %s %s\n", now, res.result_int(), std::string(req.target()).c_str(),
                  key.c_str());
      std::fflush(stdout);
    }
    if (ec || !req.keep_alive()) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Sink sink;
  unsigned short port = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--fail-half") == 0) {
      sink.fail_half = true;
    } else if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--port N] [--fail-half]\n", argv[0]);
      return 2;
    }
  }
  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
  std::printf("port %d\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  for (;;) {
    tcp::socket socket(io);
    acceptor.accept(socket);
    std::thread([&sink, s = std::move(socket)]() mutable { Serve(sink, std::move(s)); }).detach();
  }
}
