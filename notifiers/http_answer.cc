#include "notifiers/http_answer.h"

#include <algorithm>
#include <optional>
#include <string>

namespace linkwatch::notifiers {
namespace {

using net::OutboundResponse;

std::string ShortBody(const std::string& body) {
  constexpr size_t kMax = 200;
  std::string s = body.size() > kMax ? body.substr(0, kMax) + "..." : body;
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return s;
}

}  // namespace

SendResult ClassifyHttpResponse(const OutboundResponse& r, const Clock& clock) {
  if (r.error == OutboundResponse::Error::kTimeout) {
    return SendResult::Retry("timeout", "request timed out: " + r.error_message);
  }
  if (r.error == OutboundResponse::Error::kTransport) {
    return SendResult::Retry("other", "transport error: " + r.error_message);
  }
  const long s = r.status;
  const std::string detail = DescribeHttpAnswer(r);
  if (s >= 200 && s < 300) {
    SendResult ok = SendResult::Ok();
    ok.detail = detail;  // the provider's answer, for `notify test`
    return ok;
  }
  std::optional<Millis> retry_after;
  if (auto h = r.Header("Retry-After")) retry_after = net::ParseRetryAfter(*h, clock.Now());
  if (s == 429) return SendResult::Retry("rateLimited", detail, retry_after);
  if (s >= 500 && s < 600) return SendResult::Retry("serverError", detail, retry_after);
  if (s == 401 || s == 403) return SendResult::Permanent("authError", detail);
  if (s >= 400 && s < 500) return SendResult::Permanent("clientError", detail);
  // Redirects are not followed: the configured URL is wrong, like a 4xx.
  return SendResult::Permanent("clientError", "unexpected " + detail);
}

std::string DescribeHttpAnswer(const OutboundResponse& r) {
  std::string detail = "HTTP " + std::to_string(r.status);
  if (!r.body.empty()) detail += ": " + ShortBody(r.body);
  return detail;
}

}  // namespace linkwatch::notifiers
