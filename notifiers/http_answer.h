// ClassifyHttpResponse: what a provider's HTTP answer means for a
// notification (notifications.md, "Delivery"): delivered, retry (with the
// provider's Retry-After), or give up. Every HTTP integration classifies its
// answers here, so the rules live in one place; the transport itself is
// net::HttpClient (agent/net/http_client.h), shared with the sources.
//
// Stateless and thread-safe.
#pragma once

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

}  // namespace linkwatch::notifiers
