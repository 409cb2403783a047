#include "agent/dataverse/web_api_client.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <optional>

namespace linkwatch::dataverse {
namespace {

constexpr std::string_view kApiPath = "/api/data/v9.2/";
// A 429 without a usable Retry-After waits this long.
constexpr Millis kDefaultRetryAfter{5000};

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// "HTTP 503: <Dataverse's message> (<code>)", the code alone, or the
// status alone when the body is no OData error.
std::string Describe(const net::OutboundResponse& res) {
  std::string text = "HTTP " + std::to_string(res.status);
  if (auto e = ParseODataError(res.body)) text += ": " + e->ToString();
  return text;
}

std::string Seconds(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

bool IsLogicalName(std::string_view name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

WebApiClient::WebApiClient(WebApiSettings settings, const Clock& clock)
    : settings_(std::move(settings)), clock_(clock) {
  settings_.url = TrimSlash(settings_.url);
  api_base_ = settings_.url + std::string(kApiPath);
  if (settings_.entra.scope.empty()) settings_.entra.scope = settings_.url + "/.default";
  settings_.page_size = std::clamp(settings_.page_size, 1, kMaxPageSize);
  settings_.max_attempts = std::max(1, settings_.max_attempts);
  http_ = std::make_unique<net::HttpClient>();
  token_ = std::make_unique<net::EntraToken>(settings_.entra, *http_, clock_);
}

WebApiClient::~WebApiClient() = default;

void WebApiClient::Stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  cv_.notify_all();
}

bool WebApiClient::Wait(Duration d) {
  std::unique_lock lock(mu_);
  return !clock_.WaitFor(lock, cv_, d, [&] { return stopping_.load(); });
}

std::string WebApiClient::UrlOf(const std::string& target) const {
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) return target;
  return api_base_ + target;
}

std::string WebApiClient::NameOf(const std::string& target) const {
  std::string_view t = target;
  if (t.rfind(api_base_, 0) == 0) t.remove_prefix(api_base_.size());
  return std::string(t.substr(0, t.find_first_of("?(")));
}

Result<net::OutboundResponse> WebApiClient::Send(
    const std::string& what, net::OutboundRequest request,
    const std::function<Status(std::string_view)>& on_body, const std::function<void()>& restart,
    Status& body_error) {
  // The bearer token goes only to the environment: a link in an answer
  // that points elsewhere is refused, not followed.
  if (request.url.rfind(api_base_, 0) != 0) {
    return Status::Error(what + ": the link points outside " + api_base_);
  }
  request.cancel = &stopping_;
  bool streamed = false;
  if (on_body) {
    request.on_body = [&](std::string_view chunk) {
      streamed = true;
      body_error = on_body(chunk);
      return body_error.ok();
    };
  }
  Duration throttled_for{0};
  int failures = 0;
  for (;;) {
    if (stopping_) return Status::Error(what + ": stopped");
    body_error = Status::Ok();
    streamed = false;
    auto res = token_->SendAuthorized(request);
    if (stopping_) return Status::Error(what + ": stopped");
    if (!res.ok()) return res.status().WithContext(what);
    // An answer that is no page is not retried: it would be the same again.
    if (!body_error.ok()) return body_error.WithContext(what);
    std::string problem;
    std::optional<Duration> wait;
    if (!res->answered()) {
      problem =
          res->error == net::OutboundResponse::Error::kTimeout ? "timed out" : res->error_message;
    } else if (res->status >= 200 && res->status < 300) {
      return res;
    } else if (res->status == 429) {
      ++throttled_;
      const auto header = res->Header("Retry-After");
      Duration after = kDefaultRetryAfter;
      if (header) {
        if (auto parsed = net::ParseRetryAfter(*header, clock_.Now())) after = *parsed;
      }
      if (throttled_for + after > settings_.max_throttle_wait) {
        return Status::Error(what + ": " + Describe(*res) + "; throttled by Dataverse for " +
                             Seconds(throttled_for) + " and asked to wait " + Seconds(after) +
                             " more, beyond the " + Seconds(settings_.max_throttle_wait) +
                             " this client waits");
      }
      throttled_for += after;
      wait = after;
      problem = Describe(*res);
    } else if (res->status >= 500) {
      problem = Describe(*res);
    } else {
      const auto error = ParseODataError(res->body);
      return Status::Error(what + ": " + Describe(*res)).WithReason(error ? error->code : "");
    }
    if (!wait) {
      if (++failures >= settings_.max_attempts) {
        return Status::Error(what + ": " + problem + " (gave up after " + std::to_string(failures) +
                             " attempts)");
      }
      wait = settings_.backoff.Delay(failures, rng_);
    }
    spdlog::debug("dataverse: {}: {}; again in {} ms", what, problem,
                  std::chrono::duration_cast<Millis>(*wait).count());
    if (streamed && restart) restart();
    ++retries_;
    if (!Wait(*wait)) return Status::Error(what + ": stopped");
  }
}

Result<ODataPageEnd> WebApiClient::GetPages(const std::string& target, bool track_changes,
                                            const PageReader& reader) {
  const std::string name = NameOf(target);
  const int page_size =
      reader.page_size > 0 ? std::min(reader.page_size, settings_.page_size) : settings_.page_size;
  std::string prefer = "odata.maxpagesize=" + std::to_string(page_size);
  if (track_changes) prefer += ",odata.track-changes";
  net::OutboundRequest request;
  request.method = "GET";
  request.timeout = settings_.timeout;
  request.headers = {{"Accept", "application/json"},
                     {"OData-MaxVersion", "4.0"},
                     {"OData-Version", "4.0"},
                     {"Prefer", prefer}};
  request.url = UrlOf(target);
  ODataPageEnd total;
  for (int page = 1;; ++page) {
    const std::string what = "GET " + name + (page > 1 ? ", page " + std::to_string(page) : "");
    std::optional<ODataPageParser> parser;
    parser.emplace(reader.row);
    Status body_error;
    auto res = Send(
        what, request, [&](std::string_view chunk) { return parser->Feed(chunk); },
        [&] {
          if (reader.restart_page) reader.restart_page();
          parser.emplace(reader.row);
        },
        body_error);
    if (!res.ok()) return res.status();
    auto end = parser->Finish();
    if (!end.ok()) return end.status().WithContext(what);
    total.rows += end->rows;
    total.bytes += end->bytes;
    total.context = end->context;
    if (end->count) total.count = end->count;
    if (reader.page_done) {
      if (Status s = reader.page_done(*end); !s.ok()) return s.WithContext(what);
    }
    if (end->next_link.empty()) {
      total.delta_link = end->delta_link;
      return total;
    }
    if (reader.enough && reader.enough()) {
      total.next_link = end->next_link;
      return total;
    }
    if (end->next_link == request.url) {
      return Status::Error(what + ": the next page link is this page's own");
    }
    request.url = end->next_link;
  }
}

Result<nlohmann::json> WebApiClient::GetDocument(const std::string& target, size_t max_bytes) {
  const std::string what = "GET " + NameOf(target);
  net::OutboundRequest request;
  request.method = "GET";
  request.timeout = settings_.timeout;
  request.headers = {
      {"Accept", "application/json"}, {"OData-MaxVersion", "4.0"}, {"OData-Version", "4.0"}};
  request.url = UrlOf(target);
  std::string body;
  Status body_error;
  auto res = Send(
      what, request,
      [&](std::string_view chunk) {
        if (body.size() + chunk.size() > max_bytes) {
          return Status::Error("the answer is larger than " + std::to_string(max_bytes) + " bytes");
        }
        body.append(chunk);
        return Status::Ok();
      },
      [&] { body.clear(); }, body_error);
  if (!res.ok()) return res.status();
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Error(what + ": the answer is not JSON");
  return doc;
}

}  // namespace linkwatch::dataverse
