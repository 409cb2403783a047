#include "agent/http/dataverse_webhook.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "agent/dataverse/webhook.h"
#include "agent/http/server.h"

namespace linkwatch::http {

void AddDataverseWebhookRoute(HttpServer& server, DataverseWebhookSources sources) {
  auto src = std::make_shared<const DataverseWebhookSources>(std::move(sources));
  server.Handle("POST", "/api/v1/dataverse/webhook/{profile}", [src](const HttpRequest& req) {
    const std::string profile = req.Param("profile");
    auto it = src->keys.find(profile);
    if (it == src->keys.end()) {
      return HttpResponse::Error(
          404, "no profile with a dataverse source is named \"" + profile.substr(0, 128) + "\"");
    }
    auto count = [&](const char* result) {
      if (src->count) src->count(profile, result);
    };
    const Secret& key = it->second;
    if (key.empty()) {
      count("refused");
      return HttpResponse::Error(
          403, "profile " + profile + " has no source.webhook_key: webhooks are refused");
    }
    const std::string& presented =
        req.HasHeader("x-linkwatch-key") ? req.Header("x-linkwatch-key") : req.Query("code");
    if (!MatchesSecret(presented, key)) {
      count("unauthorized");
      return HttpResponse::Error(401, "missing or wrong webhook key (x-linkwatch-key or ?code=)");
    }
    auto poke = dataverse::ParseWebhookPoke(req.body, req.Header("x-ms-dynamics-entity-name"));
    if (!poke) {
      count("bad_request");
      return HttpResponse::Error(400,
                                 "dataverse webhook of profile " + profile + ": " + poke.message());
    }
    const bool queued = src->sync_now && src->sync_now(profile, poke->entity);
    count(queued ? "accepted" : "unknown_table");
    spdlog::debug("dataverse webhook {}: {} of {} {}{}", profile, poke->message, poke->entity,
                  poke->id, queued ? "" : " (not synced by this profile)");
    const nlohmann::json answer = {
        {"profile", profile}, {"table", poke->entity}, {"queued", queued}};
    return HttpResponse::Json(202, answer.dump());
  });
}

}  // namespace linkwatch::http
