#include "agent/http/alertmanager_api.h"

#include <re2/re2.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/core/time_format.h"
#include "agent/http/server.h"
#include "notifiers/inhibitor.h"
#include "notifiers/notification.h"
#include "notifiers/silences.h"

namespace linkwatch::http {
namespace {

constexpr const char* kZeroTime = "0001-01-01T00:00:00.000Z";

HttpResponse Json(int status, const nlohmann::json& j) {
  // Label values come from user data: never let bad UTF-8 turn into a 500.
  return HttpResponse::Json(status,
                            j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// An error from notifiers::Silences: "not found: ..." is 404, others 400.
HttpResponse SilenceError(const Status& s) {
  const bool not_found = s.message().rfind("not found", 0) == 0;
  return HttpResponse::Error(not_found ? 404 : 400, s.message());
}

// ?name=true|false, Alertmanager's boolean query parameters.
Result<bool> BoolParam(const HttpRequest& req, const std::string& name, bool fallback) {
  const std::string v = req.Query(name, fallback ? "true" : "false");
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return Status::Error(name + " must be true or false, not \"" + v + "\"");
}

Result<std::vector<notifiers::Matcher>> FilterParam(const HttpRequest& req) {
  std::vector<notifiers::Matcher> out;
  for (const auto& text : req.QueryValues("filter")) {
    auto parsed = notifiers::ParseMatchers(text);
    if (!parsed.ok()) return parsed.status().WithContext("filter");
    for (auto& m : *parsed) out.push_back(std::move(m));
  }
  return out;
}

Result<nlohmann::json> ParseBody(const HttpRequest& req) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return Status::Error("the body is not JSON");
  return body;
}

class Api {
 public:
  explicit Api(AlertmanagerApiSources src) : src_(std::move(src)) {}

  double Now() const { return ToEpochSeconds(src_.clock->Now()); }

  bool Authorized(const HttpRequest& req) const {
    return src_.api_token != nullptr && CheckBearer(req, *src_.api_token);
  }

  HttpResponse ListSilences(const HttpRequest& req) const {
    auto filter = FilterParam(req);
    if (!filter.ok()) return HttpResponse::Error(400, filter.message());
    const double now = Now();
    auto list = src_.silences->List();
    // Active first, then pending, then expired; newest first in each.
    auto rank = [&](const notifiers::Silence& s) {
      const std::string st = s.StateAt(now);
      return st == "active" ? 0 : st == "pending" ? 1 : 2;
    };
    std::stable_sort(list.begin(), list.end(), [&](const auto& a, const auto& b) {
      if (rank(a) != rank(b)) return rank(a) < rank(b);
      return a.updated_at > b.updated_at;
    });
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : list) {
      if (!notifiers::SilenceMatchesFilter(s, *filter)) continue;
      out.push_back(notifiers::SilenceToJson(s, now));
    }
    return Json(200, out);
  }

  HttpResponse PostSilence(const HttpRequest& req) const {
    if (!Authorized(req)) return Unauthorized();
    auto body = ParseBody(req);
    if (!body.ok()) return HttpResponse::Error(400, body.message());
    auto silence = notifiers::SilenceFromJson(*body);
    if (!silence.ok()) return HttpResponse::Error(400, silence.message());
    auto id = src_.silences->Set(std::move(silence).value());
    if (!id.ok()) return SilenceError(id.status());
    return Json(200, {{"silenceID", *id}});
  }

  HttpResponse GetSilence(const HttpRequest& req) const {
    auto s = src_.silences->Get(req.Param("id"));
    if (!s) return HttpResponse::Error(404, "no silence with id " + req.Param("id"));
    return Json(200, notifiers::SilenceToJson(*s, Now()));
  }

  HttpResponse DeleteSilence(const HttpRequest& req, bool v1) const {
    if (!Authorized(req)) return Unauthorized();
    if (auto s = src_.silences->Expire(req.Param("id")); !s.ok()) return SilenceError(s);
    if (v1) return Json(200, {{"status", "success"}});
    return HttpResponse::Json(200, "");
  }

  HttpResponse Status() const {
    const std::string version = LINKWATCH_VERSION;
    return Json(200, {{"cluster", {{"status", "disabled"}, {"peers", nlohmann::json::array()}}},
                      // The config is not shown: it may hold secrets.
                      {"config", {{"original", ""}}},
                      {"uptime", FormatDateTime(src_.started_at)},
                      {"versionInfo",
                       {{"version", version},
                        {"revision", ""},
                        {"branch", ""},
                        {"buildUser", ""},
                        {"buildDate", ""},
                        {"goVersion", ""}}}});
  }

  HttpResponse Alerts(const HttpRequest& req) const {
    auto active = BoolParam(req, "active", true);
    auto silenced = BoolParam(req, "silenced", true);
    auto inhibited = BoolParam(req, "inhibited", true);
    auto unprocessed = BoolParam(req, "unprocessed", true);
    for (const auto* r : {&active, &silenced, &inhibited, &unprocessed}) {
      if (!r->ok()) return HttpResponse::Error(400, r->message());
    }
    auto filter = FilterParam(req);
    if (!filter.ok()) return HttpResponse::Error(400, filter.message());
    std::unique_ptr<RE2> receiver;
    if (const std::string re = req.Query("receiver"); !re.empty()) {
      receiver = std::make_unique<RE2>("^(?:" + re + ")$", RE2::Quiet);
      if (!receiver->ok()) {
        return HttpResponse::Error(400, "receiver: bad regular expression: " + receiver->error());
      }
    }
    const TimePoint now = src_.clock->Now();
    const std::string updated = FormatDateTime(now);
    nlohmann::json out = nlohmann::json::array();
    for (const Alert& a : src_.alerts ? src_.alerts() : std::vector<Alert>{}) {
      if (a.state != AlertState::kFiring) continue;
      if (!notifiers::MatchAll(*filter, a.labels)) continue;
      const std::string fp = a.fingerprint.empty() ? LabelFingerprint(a.labels) : a.fingerprint;
      std::vector<std::string> receivers =
          src_.receivers ? src_.receivers(a) : std::vector<std::string>{};
      if (receiver && std::none_of(receivers.begin(), receivers.end(),
                                   [&](const auto& r) { return RE2::FullMatch(r, *receiver); })) {
        continue;
      }
      std::vector<std::string> silenced_by = src_.silences->SilencedBy(a.labels, now);
      std::vector<std::string> inhibited_by;
      if (src_.inhibitor != nullptr) inhibited_by = src_.inhibitor->InhibitedBy(a);
      const bool suppressed = !silenced_by.empty() || !inhibited_by.empty();
      if (!*active && !suppressed) continue;
      if (!*silenced && !silenced_by.empty()) continue;
      if (!*inhibited && !inhibited_by.empty()) continue;
      nlohmann::json rs = nlohmann::json::array();
      for (const auto& r : receivers) rs.push_back({{"name", r}});
      out.push_back({{"labels", a.labels},
                     {"annotations", a.annotations},
                     {"startsAt", FormatDateTime(a.starts_at)},
                     {"endsAt", kZeroTime},
                     {"updatedAt", updated},
                     {"generatorURL", ""},
                     {"fingerprint", fp},
                     {"receivers", std::move(rs)},
                     {"status",
                      {{"state", suppressed ? "suppressed" : "active"},
                       {"silencedBy", silenced_by},
                       {"inhibitedBy", inhibited_by}}}});
    }
    return Json(200, out);
  }

 private:
  AlertmanagerApiSources src_;
};

}  // namespace

void AddAlertmanagerRoutes(HttpServer& server, AlertmanagerApiSources sources) {
  auto api = std::make_shared<const Api>(std::move(sources));
  server.Handle("GET", "/api/v1/silences",
                [api](const HttpRequest& r) { return api->ListSilences(r); });
  server.Handle("POST", "/api/v1/silences",
                [api](const HttpRequest& r) { return api->PostSilence(r); });
  server.Handle("DELETE", "/api/v1/silences/{id}",
                [api](const HttpRequest& r) { return api->DeleteSilence(r, true); });
  server.Handle("GET", "/api/v2/status", [api](const HttpRequest&) { return api->Status(); });
  server.Handle("GET", "/api/v2/alerts", [api](const HttpRequest& r) { return api->Alerts(r); });
  server.Handle("GET", "/api/v2/silences",
                [api](const HttpRequest& r) { return api->ListSilences(r); });
  server.Handle("POST", "/api/v2/silences",
                [api](const HttpRequest& r) { return api->PostSilence(r); });
  server.Handle("GET", "/api/v2/silence/{id}",
                [api](const HttpRequest& r) { return api->GetSilence(r); });
  server.Handle("DELETE", "/api/v2/silence/{id}",
                [api](const HttpRequest& r) { return api->DeleteSilence(r, false); });
}

}  // namespace linkwatch::http
