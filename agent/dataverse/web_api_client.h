// WebApiClient: GETs from one Dataverse environment's Web API
// (dataverse-web-api.md "Requests"), for the dataverse watch and sync
// sources.
//
// * Every request carries an Entra ID token (net::EntraToken: cached,
//   refreshed before expiry, one refresh and resend after a 401) and the
//   OData headers; collections ask for `Prefer: odata.maxpagesize` and are
//   followed through `@odata.nextLink` unchanged, each page parsed as it
//   arrives (ODataPageParser), never held whole.
// * 429 (service protection limits) waits the answer's Retry-After; 5xx,
//   timeouts and transport errors (a page cut short among them) back off
//   exponentially with full jitter (core/backoff.h). A page that failed
//   after some of its rows were handed over is read again whole, after
//   PageReader::restart_page. Both waits go through the Clock and end early
//   when `stopping` turns true.
// * Errors name the request ("GET synapselinkprofiles, page 2") and
//   Dataverse's own error code and message; never a token or the secret.
//
// Owns its HTTP client and token, so it is used from one thread at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <random>
#include <string>

#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/core/status.h"
#include "agent/dataverse/odata_page.h"
#include "agent/net/entra_token.h"
#include "agent/net/http_client.h"

namespace linkwatch::dataverse {

inline constexpr int kMaxPageSize = 5000;  // Dataverse's limit for odata.maxpagesize

struct WebApiSettings {
  // The environment, e.g. https://contoso.crm.dynamics.com (no trailing
  // slash needed); requests go to <url>/api/data/v9.2/.
  std::string url;
  // tenant_id, client_id, client_secret, authority; the scope is set from
  // `url` when empty.
  net::EntraSettings entra;
  int page_size = kMaxPageSize;
  Backoff backoff{Millis(1000), 2, Millis(30000), true};
  int max_attempts = 5;  // per request, for 5xx and transport errors
  // Waiting on 429s for one request beyond this gives up (an error), so a
  // caller that must report progress (the watcher) is not blind for long.
  Millis max_throttle_wait{300000};
  Millis timeout{120000};  // one page, whole
};

// What a collection read hands over.
struct PageReader {
  std::function<Status(const ODataRow&)> row;
  // The page being read broke after some of its rows were handed over and
  // is about to be read again: forget the rows since the last page_done.
  std::function<void()> restart_page;
  // A page was read whole (optional): the reader may commit its rows.
  std::function<Status(const ODataPageEnd&)> page_done;
  // Asked after each page_done (optional): true ends the read there, and
  // the end GetPages returns carries the next page's link (next_link; empty
  // when that page was the last) for a later read to go on from.
  std::function<bool()> enough;
  // Prefer: odata.maxpagesize for this read, at most the settings'
  // page_size; 0 = the settings' page_size.
  int page_size = 0;
};

// A table or attribute logical name as Dataverse makes them (lower-case
// ASCII letters, digits and _, at most 128): anything else is refused before
// it reaches a URL.
bool IsLogicalName(std::string_view name);

// Dataverse's error code of a request that failed with an OData error
// answer ("0x80044352"): WebApiClient's errors carry it as their reason.
inline constexpr std::string_view kExpiredVersionStamp = "0x80044352";

class WebApiClient {
 public:
  WebApiClient(WebApiSettings settings, const Clock& clock);
  ~WebApiClient();

  // GETs `target` (an entity set with its query, "accounts?$select=name",
  // or an absolute link from an earlier answer, used unchanged) and every
  // page after it. With `track_changes`, asks for change tracking
  // (`Prefer: odata.track-changes`). Returns the last page's end: its
  // delta link, and rows and bytes counted over all pages. An error answer
  // with an OData error object fails with its code as the reason.
  Result<ODataPageEnd> GetPages(const std::string& target, bool track_changes,
                                const PageReader& reader);
  // GETs one JSON document (metadata, a function's answer), at most
  // `max_bytes` of it.
  Result<nlohmann::json> GetDocument(const std::string& target, size_t max_bytes = 64 << 20);

  // Makes waits (backoff, Retry-After) end at once and the call fail; from
  // any thread.
  void Stop();

  // <url>/api/data/v9.2/
  const std::string& api_base() const { return api_base_; }
  // HTTP requests made so far, token requests included.
  int64_t requests() const { return http_->requests(); }
  int64_t throttled() const { return throttled_; }  // 429 answers
  int64_t retries() const { return retries_; }      // requests sent again

 private:
  // One GET, retried on 429, 5xx and transport errors. `on_body` streams a
  // 2xx body (its error, in `body_error`, ends the call); `restart` runs
  // before a retry once some of a body was streamed.
  Result<net::OutboundResponse> Send(const std::string& what, net::OutboundRequest request,
                                     const std::function<Status(std::string_view)>& on_body,
                                     const std::function<void()>& restart, Status& body_error);
  // Waits `d` unless stopped; false when stopped.
  bool Wait(Duration d);
  std::string UrlOf(const std::string& target) const;
  // "accounts" of "accounts?$select=..." or of an absolute link to it.
  std::string NameOf(const std::string& target) const;

  WebApiSettings settings_;
  const Clock& clock_;
  std::string api_base_;
  std::unique_ptr<net::HttpClient> http_;
  std::unique_ptr<net::EntraToken> token_;
  std::mt19937_64 rng_{std::random_device{}()};
  int64_t throttled_ = 0;
  int64_t retries_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};  // also cancels the request in flight
};

}  // namespace linkwatch::dataverse
