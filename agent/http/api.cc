#include "agent/http/api.h"

#include <memory>
#include <nlohmann/json.hpp>

#include "agent/core/time_format.h"
#include "agent/http/server.h"
#include "exporters/exposition.h"

namespace linkwatch::http {
namespace {

nlohmann::json Time(double epoch_seconds) {
  if (epoch_seconds <= 0) return nullptr;
  return FormatDateTime(epoch_seconds);
}

HttpResponse JsonResponse(const nlohmann::json& j) {
  // Label values come from user data: never let bad UTF-8 turn into a 500.
  return HttpResponse::Json(200, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

nlohmann::json AlertToJson(const Alert& alert) {
  return {{"labels", alert.labels},
          {"annotations", alert.annotations},
          {"state", AlertStateName(alert.state)},
          {"activeAt", Time(alert.active_at)},
          {"startsAt", Time(alert.starts_at)},
          {"endsAt", Time(alert.ends_at)},
          {"fingerprint",
           alert.fingerprint.empty() ? LabelFingerprint(alert.labels) : alert.fingerprint},
          {"value", alert.value}};
}

void AddApiRoutes(HttpServer& server, ApiSources sources) {
  // Shared by the handlers, which outlive this call.
  auto src = std::make_shared<const ApiSources>(std::move(sources));

  server.Handle("GET", "/healthz",
                [](const HttpRequest&) { return HttpResponse::Text(200, "ok"); });
  server.Handle("GET", "/readyz", [src](const HttpRequest&) {
    const bool ready = !src->ready || src->ready();
    if (ready) return HttpResponse::Text(200, "ok");
    std::string reason = src->not_ready_reason ? src->not_ready_reason() : "";
    return HttpResponse::Text(503, reason.empty() ? "not ready" : "not ready: " + reason);
  });
  if (src->metrics) {
    server.Handle("GET", "/metrics", [src](const HttpRequest&) {
      HttpResponse r = HttpResponse::Text(200, src->metrics());
      r.content_type = kMetricsContentType;
      return r;
    });
  }
  if (src->alerts) {
    server.Handle("GET", "/api/v1/alerts", [src](const HttpRequest&) {
      nlohmann::json out = nlohmann::json::array();
      for (const Alert& a : src->alerts()) out.push_back(AlertToJson(a));
      return JsonResponse(out);
    });
  }
  if (src->status) {
    server.Handle("GET", "/api/v1/status",
                  [src](const HttpRequest&) { return JsonResponse(src->status()); });
  }
  if (src->notifications) {
    server.Handle("GET", "/api/v1/notifications", [src](const HttpRequest& req) {
      const std::string state = req.Query("state", "pending");
      if (state != "pending" && state != "dead") {
        return HttpResponse::Error(400, "state must be pending or dead, not \"" + state + "\"");
      }
      return JsonResponse(src->notifications(state));
    });
  }
}

}  // namespace linkwatch::http
