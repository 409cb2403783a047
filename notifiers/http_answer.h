// ClassifyHttpResponse: what a provider's HTTP answer means for a
// notification (notifications.md, "Delivery"): delivered, retry (with the
// provider's Retry-After), or give up. Every HTTP integration classifies its
// answers here, so the rules live in one place; the transport itself is
// net::HttpClient (agent/net/http_client.h), shared with the sources.
//
// Stateless and thread-safe.
#pragma once

#include <string>

#include "agent/core/clock.h"
#include "agent/net/http_client.h"
#include "notifiers/notifier.h"

namespace linkwatch::notifiers {

// 2xx ok; 429 rateLimited (retry, Retry-After honoured); 5xx serverError
// (retry, Retry-After honoured); 401/403 authError (permanent); other 4xx
// clientError (permanent); other statuses (1xx, 3xx: redirects are not
// followed) clientError (permanent);
// timeout -> timeout (retry); transport error -> other (retry).
SendResult ClassifyHttpResponse(const net::OutboundResponse& response, const Clock& clock);

// "HTTP 413: <the first 200 bytes of the body, one line>" ("HTTP 413" when
// the body is empty): the detail of an answer, for integrations that read a
// provider's answer before ClassifyHttpResponse (e.g. Teams' 200 that means
// throttling).
std::string DescribeHttpAnswer(const net::OutboundResponse& response);

}  // namespace linkwatch::notifiers
