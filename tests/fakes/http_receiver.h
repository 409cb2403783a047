// HttpReceiver: a tiny in-process HTTP/1.1 server for tests (webhook, Teams,
// SMS and Alertmanager fakes). It listens on 127.0.0.1 port 0, records every
// request, and answers each with the next scripted response (status,
// headers, body, optional delay, or held until the test releases it), or
// the default one (200) once the script is used up. Connections are kept
// alive, one thread each.
//
// Thread-safe: tests script and inspect it while the code under test posts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace linkwatch::fakes {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct RecordedRequest {
  std::string method;
  std::string target;  // path and query
  Headers headers;
  std::string body;
  std::chrono::steady_clock::time_point received_at;
  // Case-insensitive; nullopt when absent.
  std::optional<std::string> Header(const std::string& name) const;
};

struct ScriptedResponse {
  int status = 200;
  Headers headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // wait before answering
  // Answer only after Release() (no answer at all once stopped): the
  // request stays in flight for as long as the test needs.
  bool hold = false;
  // Sends only this many bytes of the body (its whole Content-Length
  // announced), then closes the connection: an answer cut short.
  std::optional<size_t> cut_body_at = std::nullopt;
};

class HttpReceiver {
 public:
  HttpReceiver();  // binds and starts serving; aborts the test binary if it cannot bind
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const { return port_; }
  // http://127.0.0.1:<port><path>
  std::string Url(const std::string& path = "/") const;

  // Answers the next requests, in order.
  void Push(ScriptedResponse response);
  void Push(int status, Headers headers = {}, std::string body = {});
  // Answer once the script is used up (200, empty body unless changed).
  void SetDefault(ScriptedResponse response);

  std::vector<RecordedRequest> Requests() const;
  size_t Count() const;
  // Waits (in real time) until at least n requests arrived.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Lets every held answer (and every later one) go.
  void Release();

  // Closes the listener and every connection; idempotent.
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd);
  bool Sleep(std::chrono::milliseconds d);  // false when stopped meanwhile
  bool Hold();                              // until Release; false when stopped first

  int listen_fd_ = -1;
  int port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  bool released_ = false;
  std::deque<ScriptedResponse> script_;
  ScriptedResponse default_;
  std::vector<RecordedRequest> requests_;
  std::vector<int> client_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace linkwatch::fakes
