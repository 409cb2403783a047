// HttpClient: a small blocking HTTP client over libcurl, the one client for
// everything linkwatch sends out (notifiers: webhook now; teams, sms,
// alertmanager later; sources: Dataverse). It returns the answer (status,
// headers, body) or a transport error or timeout as a value; what an answer
// means is the caller's business (notifiers/http_answer.h classifies it for
// the delivery model).
//
// One HttpClient owns one curl handle and keeps its connection alive between
// requests; it is not thread-safe (each thread that sends owns its client:
// an outbox worker owns its notifier and so its client). Error messages never contain the URL (it
// may be a secret).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/core/clock.h"

namespace linkwatch::net {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

inline constexpr Millis kDefaultHttpTimeout{10000};

// Outbound, to tell it from the HTTP server's http::HttpRequest.
struct OutboundRequest {
  std::string method = "POST";
  std::string url;
  HttpHeaders headers;
  std::string body;
  Millis timeout = kDefaultHttpTimeout;  // whole request, connect included
  // When set, the body of a 2xx answer is handed over in chunks as it
  // arrives, whole (no kMaxBody cap) and not kept in the response: for
  // answers too large to hold (OData pages). Returning false stops the
  // transfer (a transport error "stopped by the reader"). Other answers'
  // bodies are kept as usual, for their error messages.
  std::function<bool(std::string_view chunk)> on_body;
  // When set and true (from any thread), the request in flight is given up
  // within about a second: a transport error "cancelled".
  const std::atomic<bool>* cancel = nullptr;
};

struct OutboundResponse {
  enum class Error { kNone, kTimeout, kTransport };
  Error error = Error::kNone;
  std::string error_message;  // transport errors only
  long status = 0;
  HttpHeaders headers;  // names as sent by the server
  std::string body;     // at most kMaxBody bytes are kept

  static constexpr size_t kMaxBody = 64 * 1024;
  bool answered() const { return error == Error::kNone; }
  // Case-insensitive lookup; the last occurrence wins.
  std::optional<std::string> Header(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  OutboundResponse Send(const OutboundRequest& request);
  // Requests sent so far, whatever their outcome (what a bench reports as
  // "requests made").
  int64_t requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Retry-After as delta-seconds ("120") or an HTTP-date
// ("Wed, 21 Oct 2015 07:28:00 GMT", relative to `now`); nullopt if malformed.
// A date in the past gives 0.
std::optional<Millis> ParseRetryAfter(std::string_view value, TimePoint now);

}  // namespace linkwatch::net
