// POST /api/v1/dataverse/webhook/{profile}: where Dataverse's webhooks
// (registered with the Plug-in Registration Tool on Create, Update and
// Delete of a synced table) poke linkwatch, so that a change reaches the lake
// without waiting for the profile's sync_interval (dataverse-web-api.md
// "Webhook push"). The call is authenticated by the profile's
// `source.webhook_key`, sent as the `x-linkwatch-key` header or the `code`
// query parameter, and answered 202 at once: the table's delta read runs on
// the sync core's threads (ordering and completeness still come from change
// tracking).
//
//   202 {"profile","table","queued"}  accepted (queued: false when the
//                                     profile syncs no such table)
//   400  no table named (body and x-ms-dynamics-entity-name)
//   401  missing or wrong key
//   403  the profile has no webhook_key: webhooks are refused
//   404  no dataverse profile of that name
//
// Handlers run on the HTTP server's threads; the providers must be
// thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "agent/core/secret.h"

namespace linkwatch::http {

class HttpServer;

struct DataverseWebhookSources {
  // Every profile with a dataverse source, with its webhook key (empty:
  // webhooks refused for it).
  std::map<std::string, Secret> keys;
  // Runs a round of the table now (SyncEngine::SyncNow); false when the
  // profile syncs no such table.
  std::function<bool(const std::string& profile, const std::string& table)> sync_now;
  // Counts a call of a known profile by result ("accepted", "unknown_table",
  // "unauthorized", "refused", "bad_request"); optional.
  std::function<void(const std::string& profile, const std::string& result)> count;
};

void AddDataverseWebhookRoute(HttpServer& server, DataverseWebhookSources sources);

}  // namespace linkwatch::http
