// What linkwatch reads of a Dataverse webhook call (dataverse-web-api.md
// "Webhook push"): the RemoteExecutionContext JSON that Dataverse POSTs on a
// create, update or delete. The call is only a poke (the change itself is
// read through change tracking), so only the table, the message and the
// row's id are taken. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "agent/core/status.h"

namespace linkwatch::dataverse {

// Dataverse cuts bodies over 256 KB (and says so in a header); anything much
// larger is no webhook call.
inline constexpr size_t kMaxWebhookBody = 1 << 20;

struct WebhookPoke {
  std::string entity;   // PrimaryEntityName: the table's logical name
  std::string message;  // MessageName: Create, Update, Delete, ... ("" when absent)
  std::string id;       // PrimaryEntityId ("" when absent)
};

// Reads `body`; `entity_header` is x-ms-dynamics-entity-name (the table when
// the body was cut or is not JSON). Fails, naming what is wrong, when
// neither names a table, or the table is no logical name.
Result<WebhookPoke> ParseWebhookPoke(std::string_view body, std::string_view entity_header);

}  // namespace linkwatch::dataverse
