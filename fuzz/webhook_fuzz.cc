// ParseWebhookPoke on hostile RemoteExecutionContext bodies (what anyone
// holding a webhook key, or a leaked one, can send): no crash; what it
// accepts is a logical name with short fields; a table the body names wins
// over the header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/dataverse/web_api_client.h"
#include "agent/dataverse/webhook.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto with = linkwatch::dataverse::ParseWebhookPoke(body, "account");
  auto without = linkwatch::dataverse::ParseWebhookPoke(body, "");
  if (with.ok() && !linkwatch::dataverse::IsLogicalName(with->entity)) std::abort();
  if (without.ok()) {
    if (!linkwatch::dataverse::IsLogicalName(without->entity)) std::abort();
    // The body named the table: the header does not change it.
    if (!with.ok() || with->entity != without->entity) std::abort();
    if (without->message.size() > 128 || without->id.size() > 64) std::abort();
  }
  return 0;
}
