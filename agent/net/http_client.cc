#include "agent/net/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include "agent/core/text.h"
#include "agent/net/curl_init.h"

namespace linkwatch::net {
namespace {

struct BodySink {
  CURL* curl;
  OutboundResponse* response;
  const std::function<bool(std::string_view)>* on_body;
  bool stopped = false;
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  auto* r = sink->response;
  const size_t len = size * n;
  if (*sink->on_body) {
    long status = 0;
    curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      if ((*sink->on_body)(std::string_view(data, len))) return len;
      sink->stopped = true;
      return 0;  // CURLE_WRITE_ERROR
    }
  }
  const size_t room =
      OutboundResponse::kMaxBody - std::min(OutboundResponse::kMaxBody, r->body.size());
  r->body.append(data, std::min(len, room));
  return len;  // keep reading (and discard) so the connection stays reusable
}

int Progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;  // 1 aborts
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<OutboundResponse*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {
    r->headers.clear();  // a new response (after 100 Continue or a redirect)
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    r->headers.emplace_back(std::string(StripAsciiWhitespace(line.substr(0, colon))),
                            std::string(StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return len;
}

}  // namespace

std::optional<std::string> OutboundResponse::Header(std::string_view name) const {
  std::optional<std::string> found;
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) found = v;
  }
  return found;
}

struct HttpClient::Impl {
  CURL* curl = nullptr;
  int64_t requests = 0;
};

int64_t HttpClient::requests() const { return impl_->requests; }

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {
  EnsureCurlInitialized();
  impl_->curl = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

OutboundResponse HttpClient::Send(const OutboundRequest& request) {
  OutboundResponse response;
  CURL* c = impl_->curl;
  if (c == nullptr) {
    response.error = OutboundResponse::Error::kTransport;
    response.error_message = "curl_easy_init failed";
    return response;
  }
  ++impl_->requests;
  curl_easy_reset(c);  // keeps the connection cache
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers) {
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  }
  // curl waits up to a second for "100 Continue" on larger bodies otherwise.
  headers = curl_slist_append(headers, "Expect:");
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "linkwatch/" LINKWATCH_VERSION);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  BodySink sink{c, &response, &request.on_body};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response);

  if (request.cancel != nullptr) {
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &Progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, request.cancel);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    response.error = rc == CURLE_OPERATION_TIMEDOUT ? OutboundResponse::Error::kTimeout
                                                    : OutboundResponse::Error::kTransport;
    // curl's messages name host and port at most, never the path or query.
    response.error_message = sink.stopped                      ? "stopped by the reader of the body"
                             : rc == CURLE_ABORTED_BY_CALLBACK ? "cancelled"
                             : error[0] != '\0'                ? error
                                                               : curl_easy_strerror(rc);
    response.status = 0;
    return response;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::optional<Millis> ParseRetryAfter(std::string_view value, TimePoint now) {
  value = StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
    long long seconds = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    (void)p;
    if (ec != std::errc()) return std::nullopt;
    return Millis(std::min<long long>(seconds, 365LL * 86400) * 1000);
  }
  // IMF-fixdate, the only form servers must send (RFC 9110 section 5.6.7).
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const TimePoint at = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (at <= now) return Millis(0);
  return std::chrono::duration_cast<Millis>(at - now);
}

}  // namespace linkwatch::net
