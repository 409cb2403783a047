// The read-only HTTP API of contract.md section 6, written against small
// providers instead of the watcher's internals: whoever wires the agent
// (main, the demo, a test) fills ApiSources with functions, and the routes
// call them per request. Providers are called on the HTTP server's threads,
// concurrently, so they must be thread-safe.
//
//   GET /healthz                   200 "ok"
//   GET /readyz                    200 "ok" | 503 "not ready" (or the reason)
//   GET /metrics                   Prometheus text format 0.0.4
//   GET /api/v1/alerts             JSON array of alerts
//   GET /api/v1/status             the status provider's JSON
//   GET /api/v1/notifications?state=pending|dead   (default pending; else 400)
//
// A provider left empty leaves its route out (404), except ready (always
// ready) and healthz (no provider).
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "rules/alert.h"

namespace linkwatch::http {

class HttpServer;

struct ApiSources {
  std::function<std::vector<Alert>()> alerts;
  std::function<nlohmann::json()> status;
  // state is "pending" or "dead".
  std::function<nlohmann::json(const std::string& state)> notifications;
  std::function<bool()> ready;
  // Why the agent is not ready, as /readyz's 503 body ("" for the default).
  std::function<std::string()> not_ready_reason;
  std::function<std::string()> metrics;
};

void AddApiRoutes(HttpServer& server, ApiSources sources);

// One alert as /api/v1/alerts shows it: labels, annotations, state,
// activeAt, startsAt, endsAt (ISO-8601 UTC, null when not reached),
// fingerprint, value.
nlohmann::json AlertToJson(const Alert& alert);

}  // namespace linkwatch::http
