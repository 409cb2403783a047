// HttpServer: linkwatch's embedded HTTP/1.1 server (Boost.Beast/Asio behind
// a pimpl: this header and every handler stay free of Boost).
//
//   HttpServer server("127.0.0.1:0");
//   server.Handle("GET", "/healthz", [](const HttpRequest&) { return HttpResponse::Text(200, "ok");
//   }); if (Status s = server.Start(); !s.ok()) ...;   // binds, serves on background threads int
//   port = server.port(); server.Stop();                                 // graceful
//
// Behaviour: keep-alive; request bodies over max_body_bytes get 413, unknown
// paths 404, wrong methods 405, malformed requests 400, oversized headers
// 431 (all JSON {"error": ...}); a client that does not deliver a complete
// request within request_timeout (slowloris, or idle on a kept-alive
// connection) is disconnected; handler exceptions become 500.
//
// Handlers run on the server's threads, concurrently for different
// connections; they must be thread-safe and should not block for long.
// Thread-safety: Handle may be called at any time (routes are guarded);
// Start/Stop/port from one controlling thread, never from a handler.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "agent/core/listen_address.h"
#include "agent/core/status.h"
#include "agent/http/http_types.h"

namespace linkwatch::http {

struct HttpServerOptions {
  int threads = 2;
  size_t max_body_bytes = 1 << 20;     // larger bodies get 413
  size_t max_header_bytes = 16 << 10;  // larger headers get 431
  // Time a client has to deliver one complete request (headers and body),
  // counted from when the server starts waiting for it; also the keep-alive
  // idle limit.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  // After an error answer the server reads and drops what the client still
  // sends for at most this long, so that the client sees the answer instead
  // of a connection reset.
  std::chrono::milliseconds linger_timeout{std::chrono::seconds(2)};
  // Stop() waits this long for requests in flight before cutting them off.
  std::chrono::milliseconds stop_grace{std::chrono::seconds(5)};
};

// The listen address is parsed where config loading checks it too.
using ::linkwatch::ParseListenAddress;

class HttpServer {
 public:
  explicit HttpServer(std::string listen, HttpServerOptions options = {});
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adds a route (see route_table.h for patterns: "{id}" segments, trailing "/*").
  void Handle(std::string method, std::string path_pattern, Handler handler);

  // Binds and starts serving on options.threads background threads. Fails
  // for a bad address, a port in use, or a second Start.
  Status Start();
  // The bound port (useful with port 0); 0 before Start.
  int port() const;
  // Stops accepting, closes idle connections, lets requests in flight finish
  // (up to stop_grace), then joins the threads. Idempotent.
  void Stop();

  class Impl;  // opaque: the Beast side, defined in server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace linkwatch::http
