#include "tests/fakes/http_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "agent/core/text.h"

namespace linkwatch::fakes {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool SendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::optional<std::string> RecordedRequest::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

HttpReceiver::HttpReceiver() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("HttpReceiver: cannot listen on 127.0.0.1");
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

HttpReceiver::~HttpReceiver() { Stop(); }

std::string HttpReceiver::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpReceiver::Push(ScriptedResponse response) {
  std::lock_guard lk(mu_);
  script_.push_back(std::move(response));
}

void HttpReceiver::Push(int status, Headers headers, std::string body) {
  Push(ScriptedResponse{status, std::move(headers), std::move(body), {}});
}

void HttpReceiver::SetDefault(ScriptedResponse response) {
  std::lock_guard lk(mu_);
  default_ = std::move(response);
}

std::vector<RecordedRequest> HttpReceiver::Requests() const {
  std::lock_guard lk(mu_);
  return requests_;
}

size_t HttpReceiver::Count() const {
  std::lock_guard lk(mu_);
  return requests_.size();
}

bool HttpReceiver::WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return requests_.size() >= n; });
}

void HttpReceiver::Release() {
  std::lock_guard lk(mu_);
  released_ = true;
  cv_.notify_all();
}

void HttpReceiver::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    for (int fd : client_fds_) ::shutdown(fd, SHUT_RDWR);
    cv_.notify_all();
  }
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard lk(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  ::close(listen_fd_);
}

void HttpReceiver::AcceptLoop() {
  while (true) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    std::lock_guard lk(mu_);
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) continue;
    client_fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

bool HttpReceiver::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lk(mu_);
  return !cv_.wait_for(lk, d, [this] { return stopping_; });
}

bool HttpReceiver::Hold() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this] { return released_ || stopping_; });
  return !stopping_;
}

void HttpReceiver::Serve(int fd) {
  std::string buf;
  auto fill = [&]() {
    char chunk[8192];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  };
  // Reads one request and answers it; false when the connection is done.
  auto serve_one = [&]() {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    RecordedRequest req;
    const std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    const size_t line_end = std::min(head.find("\r\n"), head.size());
    const std::string request_line = head.substr(0, line_end);
    const size_t sp1 = request_line.find(' ');
    const size_t sp2 = request_line.find(' ', sp1 + 1);
    req.method = request_line.substr(0, sp1);
    req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t length = 0;
    bool close_after = false;
    size_t pos = line_end + 2;
    while (pos < head.size()) {
      size_t next = std::min(head.find("\r\n", pos), head.size());
      const std::string line = head.substr(pos, next - pos);
      pos = next + 2;
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name(StripAsciiWhitespace(std::string_view(line).substr(0, colon)));
      std::string value(StripAsciiWhitespace(std::string_view(line).substr(colon + 1)));
      if (EqualsIgnoreCase(name, "content-length")) {
        length = std::strtoul(value.c_str(), nullptr, 10);
      }
      if (EqualsIgnoreCase(name, "connection") && EqualsIgnoreCase(value, "close")) {
        close_after = true;
      }
      req.headers.emplace_back(std::move(name), std::move(value));
    }
    while (buf.size() < length) {
      if (!fill()) return false;
    }
    req.body = buf.substr(0, length);
    buf.erase(0, length);
    req.received_at = std::chrono::steady_clock::now();

    ScriptedResponse resp;
    {
      std::lock_guard lk(mu_);
      requests_.push_back(std::move(req));
      if (!script_.empty()) {
        resp = std::move(script_.front());
        script_.pop_front();
      } else {
        resp = default_;
      }
      cv_.notify_all();
    }
    if (resp.delay.count() > 0 && !Sleep(resp.delay)) return false;
    if (resp.hold && !Hold()) return false;
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) +
                      "\r\nContent-Length: " + std::to_string(resp.body.size()) + "\r\n";
    for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
    if (close_after) out += "Connection: close\r\n";
    if (resp.cut_body_at) {
      out += "\r\n" + resp.body.substr(0, *resp.cut_body_at);
      (void)SendAll(fd, out);
      return false;
    }
    out += "\r\n" + resp.body;
    return SendAll(fd, out) && !close_after;
  };
  while (serve_one()) {
  }
  {
    // Forget the descriptor before closing it: Stop must not shut down a
    // number the process has reused meanwhile.
    std::lock_guard lk(mu_);
    client_fds_.erase(std::remove(client_fds_.begin(), client_fds_.end(), fd), client_fds_.end());
  }
  ::close(fd);
}

}  // namespace linkwatch::fakes
