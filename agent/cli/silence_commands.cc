// `linkwatch silence add|list|expire`: silences through a running agent's
// HTTP API (/api/v1/silences), as amtool does through Alertmanager's. The
// agent's address and api_token come from the config (http.listen,
// http.api_token), or --url.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "agent/cli/app.h"
#include "agent/core/config.h"
#include "agent/core/listen_address.h"
#include "agent/core/problem.h"
#include "agent/core/time_format.h"
#include "agent/net/http_client.h"
#include "notifiers/matcher.h"
#include "notifiers/silences.h"

namespace linkwatch {
namespace {

struct Target {
  std::string base;  // http://127.0.0.1:9464
  Secret token;
};

// Returns an exit code (!= 0) on failure.
int Resolve(const SilenceOptions& o, Target& t) {
  try {
    Config config = LoadConfig(o.config_path, BuiltinConfigTypes());
    t.base = LocalUrl(config.http.listen);
    t.token = config.http.api_token;
  } catch (const InputError& e) {
    for (const auto& p : e.problems()) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    return 2;
  }
  if (!o.url.empty()) t.base = o.url;
  while (!t.base.empty() && t.base.back() == '/') t.base.pop_back();
  return 0;
}

// Sends the request; prints the error and returns nullopt on failure.
std::optional<nlohmann::json> Call(const Target& t, const std::string& method,
                                   const std::string& path, const std::string& body,
                                   const char* command) {
  net::OutboundRequest req;
  req.method = method;
  req.url = t.base + path;
  req.body = body;
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  if (!t.token.empty()) req.headers.emplace_back("Authorization", "Bearer " + t.token.Reveal());
  net::HttpClient client;
  net::OutboundResponse r = client.Send(req);
  if (!r.answered()) {
    std::fprintf(stderr, "linkwatch silence %s: %s %s: %s (is the agent running?)\n", command,
                 method.c_str(), req.url.c_str(), r.error_message.c_str());
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status / 100 != 2) {
    std::string why = j.is_object() && j.contains("error") && j["error"].is_string()
                          ? j["error"].get<std::string>()
                          : r.body;
    std::fprintf(stderr, "linkwatch silence %s: %s %s: %ld %s\n", command, method.c_str(),
                 req.url.c_str(), r.status, why.c_str());
    return std::nullopt;
  }
  return j.is_discarded() ? nlohmann::json() : j;
}

std::string MatchersText(const nlohmann::json& matchers) {
  std::string out;
  for (const auto& m : matchers) {
    auto matcher = notifiers::MatcherFromJson(m);
    if (!out.empty()) out += " ";
    out += matcher.ok() ? matcher->ToString() : m.dump();
  }
  return out;
}

}  // namespace

int SilenceAddCommand(const SilenceOptions& o) {
  Target t;
  if (int rc = Resolve(o, t); rc != 0) return rc;
  nlohmann::json matchers = nlohmann::json::array();
  for (const auto& text : o.matchers) {
    auto parsed = notifiers::ParseMatchers(text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "linkwatch silence add: %s\n", parsed.message().c_str());
      return 2;
    }
    for (const auto& m : *parsed) matchers.push_back(m.ToString());
  }
  if (o.comment.empty()) {
    std::fprintf(stderr, "linkwatch silence add: --comment is required (say why)\n");
    return 2;
  }
  double start = ToEpochSeconds(SystemClock::Instance().Now());
  if (!o.start.empty()) {
    auto s = ParseDateTime(o.start);
    if (!s.ok()) {
      std::fprintf(stderr, "linkwatch silence add: --start: %s\n", s.message().c_str());
      return 2;
    }
    start = *s;
  }
  double end = 0;
  if (!o.end.empty()) {
    auto e = ParseDateTime(o.end);
    if (!e.ok()) {
      std::fprintf(stderr, "linkwatch silence add: --end: %s\n", e.message().c_str());
      return 2;
    }
    end = *e;
  } else {
    auto d = ParseDuration(o.duration);
    if (!d.ok() || d->count() <= 0) {
      std::fprintf(stderr, "linkwatch silence add: --duration: %s\n",
                   d.ok() ? "must be above 0" : d.message().c_str());
      return 2;
    }
    end = start + std::chrono::duration<double>(*d).count();
  }
  std::string author = o.author;
  if (author.empty()) author = std::getenv("USER") != nullptr ? std::getenv("USER") : "linkwatch";
  nlohmann::json body{{"matchers", matchers},
                      {"startsAt", FormatDateTime(start)},
                      {"endsAt", FormatDateTime(end)},
                      {"createdBy", author},
                      {"comment", o.comment}};
  auto answer = Call(t, "POST", "/api/v1/silences", body.dump(), "add");
  if (!answer) return 1;
  std::printf("%s\n", answer->value("silenceID", "").c_str());
  return 0;
}

int SilenceListCommand(const SilenceOptions& o) {
  Target t;
  if (int rc = Resolve(o, t); rc != 0) return rc;
  auto answer = Call(t, "GET", "/api/v1/silences", "", "list");
  if (!answer) return 1;
  nlohmann::json shown = nlohmann::json::array();
  for (const auto& s : *answer) {
    const std::string state = s["status"].value("state", "");
    if (state == "expired" && !o.expired) continue;
    shown.push_back(s);
  }
  if (o.json) {
    std::printf("%s\n", shown.dump(2).c_str());
    return 0;
  }
  std::printf("%-36s  %-8s  %-20s  %-20s  %-12s  %s\n", "ID", "State", "Starts", "Ends",
              "Created by", "Matchers / comment");
  for (const auto& s : shown) {
    std::printf("%-36s  %-8s  %-20s  %-20s  %-12s  %s  # %s\n", s.value("id", "").c_str(),
                s["status"].value("state", "").c_str(), s.value("startsAt", "").c_str(),
                s.value("endsAt", "").c_str(), s.value("createdBy", "").c_str(),
                MatchersText(s["matchers"]).c_str(), s.value("comment", "").c_str());
  }
  return 0;
}

int SilenceExpireCommand(const SilenceOptions& o) {
  Target t;
  if (int rc = Resolve(o, t); rc != 0) return rc;
  int rc = 0;
  for (const auto& id : o.ids) {
    if (!Call(t, "DELETE", "/api/v1/silences/" + id, "", "expire")) rc = 1;
  }
  return rc;
}

}  // namespace linkwatch
