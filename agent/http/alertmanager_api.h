// Silences over HTTP, and the Alertmanager API v2 subset (contract.md section
// 6), shaped as Alertmanager 0.25 answers so that `amtool
// --alertmanager.url=...` and Grafana's Alertmanager data source work against
// linkwatch unchanged:
//
//   GET    /api/v1/silences            [silence]  (every state, newest first)
//   POST   /api/v1/silences            {"silenceID": id}            (token)
//   DELETE /api/v1/silences/{id}       {"status": "success"}        (token)
//   GET    /api/v2/status              cluster "disabled", versionInfo, uptime
//   GET    /api/v2/alerts              firing alerts as gettableAlert;
//          ?active, silenced, inhibited, unprocessed (default true),
//          filter (repeatable matcher), receiver (regex)
//   GET    /api/v2/silences            [gettableSilence]; ?filter (repeatable)
//   POST   /api/v2/silences            {"silenceID": id}            (token)
//   GET    /api/v2/silence/{id}        gettableSilence | 404
//   DELETE /api/v2/silence/{id}        200 (token)
//
// A silence is notifiers::SilenceToJson's shape in both versions; POST takes
// Alertmanager's postableSilence (matchers as objects, or strings such as
// 'severity="critical"'). Mutations need "Authorization: Bearer <api_token>".
// Errors are 4xx with {"error": "..."}: 400 for a bad body, 404 for an
// unknown id.
//
// Providers are called on the HTTP server's threads; they must be thread-safe.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/secret.h"
#include "rules/alert.h"

namespace linkwatch::notifiers {
class Silences;
class Inhibitor;
}  // namespace linkwatch::notifiers

namespace linkwatch::http {

class HttpServer;

struct AlertmanagerApiSources {
  notifiers::Silences* silences = nullptr;    // required
  notifiers::Inhibitor* inhibitor = nullptr;  // optional
  // The alerts the engine knows (only firing ones are shown).
  std::function<std::vector<Alert>()> alerts;
  // The receivers an alert is routed to.
  std::function<std::vector<std::string>(const Alert&)> receivers;
  const Secret* api_token = nullptr;
  const Clock* clock = &SystemClock::Instance();
  double started_at = 0;  // epoch seconds, /api/v2/status uptime
};

void AddAlertmanagerRoutes(HttpServer& server, AlertmanagerApiSources sources);

}  // namespace linkwatch::http
