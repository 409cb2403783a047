#include "agent/dataverse/webhook.h"

#include <nlohmann/json.hpp>

#include "agent/dataverse/web_api_client.h"

namespace linkwatch::dataverse {
namespace {

std::string TextOf(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<WebhookPoke> ParseWebhookPoke(std::string_view body, std::string_view entity_header) {
  if (body.size() > kMaxWebhookBody) {
    return Status::Error("the body is larger than " + std::to_string(kMaxWebhookBody) + " bytes");
  }
  WebhookPoke poke;
  const auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    poke.entity = TextOf(doc, "PrimaryEntityName");
    poke.message = TextOf(doc, "MessageName");
    poke.id = TextOf(doc, "PrimaryEntityId");
  }
  if (poke.entity.empty()) poke.entity = std::string(entity_header);
  if (poke.entity.empty()) {
    return Status::Error(
        doc.is_object() ? "no PrimaryEntityName in the body nor an x-ms-dynamics-entity-name header"
                        : "the body is not a RemoteExecutionContext (JSON object) and there is no "
                          "x-ms-dynamics-entity-name header");
  }
  if (!IsLogicalName(poke.entity)) {
    return Status::Error("PrimaryEntityName is not a Dataverse logical name");
  }
  if (poke.message.size() > 128) poke.message.resize(128);
  if (poke.id.size() > 64) poke.id.resize(64);
  return poke;
}

}  // namespace linkwatch::dataverse
