// A deliberately dumb blocking HTTP/1.1 client over a raw loopback socket,
// so tests can do what real clients and attackers do: pipeline, keep a
// connection alive, trickle bytes, send oversized bodies. Every read has a
// 10 s safety timeout so a broken server fails a test instead of hanging it.
// One connection per object; not thread-safe (use one per thread).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "agent/http/http_types.h"

namespace linkwatch::http::testing {

struct ClientResponse {
  int status = 0;
  std::multimap<std::string, std::string, CaseInsensitiveLess> headers;
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class TestConnection {
 public:
  explicit TestConnection(int port);
  ~TestConnection();
  TestConnection(const TestConnection&) = delete;
  TestConnection& operator=(const TestConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool Send(std::string_view data);
  // Reads one response; a body is read by Content-Length (none for HEAD).
  // nullopt on EOF, error or timeout.
  std::optional<ClientResponse> Read(bool head = false);
  // Waits (up to `limit`) for the server to close the connection; true if
  // it did (EOF or reset), false if the connection is still open.
  bool WaitClosed(std::chrono::milliseconds limit);

 private:
  bool Fill();  // reads more into buffer_; false on EOF/error
  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection.
std::optional<ClientResponse> Request(int port, const std::string& method,
                                      const std::string& target, const std::string& body = "",
                                      const std::string& extra_headers = "");

}  // namespace linkwatch::http::testing
