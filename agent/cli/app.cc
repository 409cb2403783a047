#include "agent/cli/app.h"

#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/core/config.h"
#include "agent/core/listen_address.h"
#include "agent/core/logging.h"
#include "agent/core/time_format.h"
#include "agent/http/alertmanager_api.h"
#include "agent/http/api.h"
#include "agent/http/dataverse_webhook.h"
#include "agent/http/server.h"
#include "agent/state/monitor.h"
#include "agent/state/state_store.h"
#include "agent/sync/destination_registry.h"
#include "agent/sync/engine.h"
#include "agent/sync/source_registry.h"
#include "agent/sync/sources/dataverse_source.h"
#include "agent/sync/state_rows.h"
#include "agent/sync/sync_metrics.h"
#include "agent/watch/state_source_registry.h"
#include "agent/watch/store_health.h"
#include "agent/watch/watch_metrics.h"
#include "agent/watch/watcher.h"
#include "exporters/agent_metrics.h"
#include "exporters/exposition.h"
#include "exporters/state_collector.h"
#include "exporters/status_page.h"
#include "notifiers/inhibitor.h"
#include "notifiers/notifier_metrics.h"
#include "notifiers/outbox.h"
#include "notifiers/receivers.h"
#include "notifiers/router.h"
#include "notifiers/silences.h"
#include "rules/alert_store.h"
#include "rules/rule_engine.h"
#include "rules/rule_file.h"
#include "rules/rule_test.h"
#include "rules/rules_metrics.h"

namespace linkwatch {
namespace {

void PrintProblems(const InputError& e) {
  for (const auto& p : e.problems()) std::fprintf(stderr, "%s\n", p.ToString().c_str());
}

// Notes (to stderr) where the config and the state store disagree on what
// is linked; nothing when the state store does not exist yet.
void PrintLinkNotes(const Config& config, const std::string& config_path) {
  // Also without profiles: the store may have linked profiles the config
  // no longer names.
  std::error_code ec;
  if (!std::filesystem::exists(config.state_db, ec)) return;
  auto db = state::Db::Open(config.state_db, state::Db::Mode::kReadOnly);
  if (!db) return;
  auto notes = sync::LinkNotes(**db, config.profiles, config_path);
  if (!notes) return;  // an older state store without the sync tables
  for (const auto& n : *notes) std::fprintf(stderr, "note: %s\n", n.c_str());
}

// What `run` needs before it starts serving and the config loader cannot
// know: the types this version runs (the registries say), and files it opens. Part of LoadAll, so
// that check-config and run (and a reload) refuse the same things, at the
// key's position. Reads only: the state store is neither created nor
// migrated here.
void CheckRunPrerequisites(const Config& config, Problems& p) {
  const YAML::Node& doc = config.document;
  const auto& sources = sync::SourceRegistry::Builtin();
  const auto& destinations = sync::DestinationRegistry::Builtin();
  for (size_t i = 0; i < config.profiles.size(); ++i) {
    const auto& pc = config.profiles[i];
    if (sources.Runs(pc.source_type) && destinations.Runs(pc.destination_type)) continue;
    YAML::Node at = doc["profiles"] ? doc["profiles"][i] : YAML::Node();
    p.Add(at, "profile " + pc.name + ": source type " + pc.source_type + " to destination type " +
                  pc.destination_type + " is not supported by this version yet (" +
                  JoinTypes(sources.Running(), " or ") + " to " +
                  JoinTypes(destinations.Running(), " or ") + " is)");
  }
  const auto& watch_sources = watch::StateSourceRegistry::Builtin();
  const YAML::Node blocks = doc["watch"] ? doc["watch"]["sources"] : YAML::Node();
  for (size_t i = 0; i < config.watch.sources.size(); ++i) {
    const auto& s = config.watch.sources[i];
    const YAML::Node at =
        blocks && blocks.IsSequence() && i < blocks.size() ? blocks[i] : YAML::Node();
    if (!watch_sources.Runs(s.type)) {
      p.Add(at["type"] ? at["type"] : at, "watch source " + s.name + ": type " + s.type +
                                              " is not supported by this version yet");
      continue;
    }
    Problems built_with(config.path);  // the block's own problems were reported by LoadConfig
    auto source =
        watch_sources.Build(s.type, s.spec,
                            BlockContext{"watch source", s.name, s.path, config.dir,
                                         config.state_db, built_with, WatchSourceBlockKeys()});
    if (!source) continue;
    if (auto st = (*source)->CheckReadable(); !st.ok()) {
      p.Add(at["path"] ? at["path"] : at, "watch source " + s.name + ": " + st.message());
    }
  }
  if (auto st = state::CheckStateStoreFile(config.state_db); !st.ok()) {
    p.Add(doc["state_db"] ? doc["state_db"] : doc, "state_db: " + st.message());
  }
}

// Everything a config names, loaded and validated together so that every
// problem is reported at once and a reload is all-or-nothing.
struct Loaded {
  Config config;
  std::vector<RuleGroup> groups;
  std::vector<notifiers::ReceiverConfig> receivers;
  notifiers::RouteConfig route;
  std::vector<notifiers::InhibitRule> inhibit_rules;
};

Loaded LoadAll(const std::string& path) {
  std::vector<Problem> problems;
  Loaded out;
  try {
    out.config = LoadConfig(path, BuiltinConfigTypes());
  } catch (const InputError& e) {
    // Without a readable config nothing else can be checked.
    throw;
  }
  Problems p(out.config.path);
  if (out.config.receivers) {
    out.receivers =
        notifiers::ParseReceivers(out.config.receivers, out.config.path, out.config.dir, p);
  }
  // Every declared name, valid or not: an invalid receiver's problem is
  // reported once, at the receiver, not also at each route naming it.
  const std::set<std::string> names = notifiers::DeclaredReceiverNames(out.config.receivers);
  if (out.config.route) {
    out.route = notifiers::ParseRoute(out.config.route, out.config.path, names, p);
  } else if (!out.receivers.empty()) {
    p.Add(0, 0, "receivers are configured but there is no route: add route: {receiver: NAME}");
  }
  out.inhibit_rules = notifiers::ParseInhibitRules(out.config.inhibit_rules, out.config.path, p);
  CheckRunPrerequisites(out.config, p);
  problems = p.list();
  try {
    out.groups = LoadRuleFiles(out.config.watch.rule_files, out.config.watch.interval);
  } catch (const InputError& e) {
    problems.insert(problems.end(), e.problems().begin(), e.problems().end());
  }
  if (!problems.empty()) throw InputError(problems);
  return out;
}

nlohmann::json MonitorJson(const state::MonitorRow& m) {
  nlohmann::json j{{"profile", m.profile},        {"table", m.table},
                   {"syncStatus", m.sync_status}, {"initialSync", m.initial_sync},
                   {"appendOnly", m.append_only}, {"partitionStrategy", m.partition}};
  j["lastSyncedOn"] = m.last_synced ? nlohmann::json(FormatDateTime(*m.last_synced)) : nullptr;
  j["count"] = m.count ? nlohmann::json(*m.count) : nullptr;
  j["sourceCount"] = m.source_count ? nlohmann::json(*m.source_count) : nullptr;
  j["lastError"] = m.last_error.empty() ? nullptr : nlohmann::json(m.last_error);
  j["lastErrorAt"] = m.last_error_at ? nlohmann::json(FormatDateTime(*m.last_error_at)) : nullptr;
  j["errorReason"] = m.error_reason.empty() ? nullptr : nlohmann::json(m.error_reason);
  j["lastBreak"] = nullptr;
  if (m.last_break_at) {
    j["lastBreak"] = {{"reason", m.last_break_reason},
                      {"message", m.last_break_message},
                      {"at", FormatDateTime(*m.last_break_at)},
                      {"repairedAt", m.last_break_repaired_at
                                         ? nlohmann::json(FormatDateTime(*m.last_break_repaired_at))
                                         : nlohmann::json(nullptr)}};
  }
  j["failedRecords"] = m.failed_records;
  j["failedRecordReason"] = m.failed_reason.empty() ? nullptr : nlohmann::json(m.failed_reason);
  return j;
}

// What the watcher thread publishes for the HTTP threads to read.
// The receivers each firing alert is routed to, for /api/v2/alerts: set on
// the watcher thread (the router is not thread-safe), read by the API.
class ReceiversByAlert {
 public:
  void Set(const std::vector<Alert>& alerts, const notifiers::Router& router) {
    std::map<std::string, std::vector<std::string>> next;
    for (const Alert& a : alerts) {
      if (a.state == AlertState::kFiring) next[a.fingerprint] = router.ReceiversFor(a.labels);
    }
    std::lock_guard<std::mutex> lock(mu_);
    by_fingerprint_ = std::move(next);
  }
  std::vector<std::string> Get(const std::string& fingerprint) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_fingerprint_.find(fingerprint);
    return it == by_fingerprint_.end() ? std::vector<std::string>{} : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> by_fingerprint_;
};

class Published {
 public:
  void SetSnapshot(const std::string& source, std::shared_ptr<const state::Snapshot> s) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_[source] = std::move(s);
  }
  void SetAlerts(std::vector<Alert> alerts) {
    std::lock_guard<std::mutex> lock(mu_);
    alerts_ = std::move(alerts);
  }
  void SetSources(std::vector<watch::SourceStatus> sources) {
    std::lock_guard<std::mutex> lock(mu_);
    sources_ = std::move(sources);
  }
  std::vector<Alert> Alerts() {
    std::lock_guard<std::mutex> lock(mu_);
    return alerts_;
  }
  nlohmann::json Status() {
    std::lock_guard<std::mutex> lock(mu_);
    nlohmann::json sources = nlohmann::json::array();
    for (const auto& s : sources_) {
      nlohmann::json j{{"name", s.name}, {"up", s.up}, {"lastError", s.last_error}};
      j["lastPoll"] = s.last_poll > 0 ? nlohmann::json(FormatDateTime(s.last_poll)) : nullptr;
      j["lastSuccess"] =
          s.last_success > 0 ? nlohmann::json(FormatDateTime(s.last_success)) : nullptr;
      sources.push_back(j);
    }
    nlohmann::json profiles = nlohmann::json::array();
    nlohmann::json tables = nlohmann::json::array();
    for (const auto& [source, snap] : snapshots_) {
      const auto& prows = (*snap)[state::TableId::kProfile];
      const auto& pd = *prows.def;
      for (const auto& r : prows.rows) {
        const int st = pd.ColumnIndex("profilestate");
        profiles.push_back({{"source", source},
                            {"name", r[pd.ColumnIndex("name")].text()},
                            {"id", r[0].text()},
                            {"state", state::ChoiceLabel(pd.columns[st], r[st])}});
      }
      for (const auto& m : state::MonitorTable(*snap)) {
        auto j = MonitorJson(m);
        j["source"] = source;
        tables.push_back(std::move(j));
      }
    }
    return {{"sources", sources}, {"profiles", profiles}, {"tables", tables}};
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const state::Snapshot>> snapshots_;
  std::vector<Alert> alerts_;
  std::vector<watch::SourceStatus> sources_;
};

}  // namespace

const ConfigTypes& BuiltinConfigTypes() {
  static const ConfigTypes kTypes{&sync::SourceRegistry::Builtin(),
                                  &sync::DestinationRegistry::Builtin(),
                                  &watch::StateSourceRegistry::Builtin()};
  return kTypes;
}

int CheckConfig(const std::string& config_path) {
  try {
    Loaded loaded = LoadAll(config_path);
    std::printf("ok: %zu rule group(s) in %zu file(s), %zu receiver(s), %zu watch source(s)\n",
                loaded.groups.size(), loaded.config.watch.rule_files.size(),
                loaded.receivers.size(), loaded.config.watch.sources.size());
    PrintLinkNotes(loaded.config, config_path);
    // A table missing from its source, or not change-tracked, is not a
    // config error (`run` starts, and the table shows as failed until it is
    // fixed), but it is what check-config is run to find out.
    for (const auto& pc : loaded.config.profiles) {
      for (const auto& t : pc.tables) {
        if (auto s = CheckSourceTables(pc, {t.name}); !s.ok()) {
          std::fprintf(stderr, "warning: %s\n", s.message().c_str());
        }
      }
    }
    return 0;
  } catch (const InputError& e) {
    PrintProblems(e);
    return 2;
  }
}

int RulesCheck(const std::vector<std::string>& files) {
  try {
    auto groups = LoadRuleFiles(files, Millis(15000));
    size_t rules = 0;
    for (const auto& g : groups) rules += g.rules.size();
    std::printf("ok: %zu group(s), %zu rule(s)\n", groups.size(), rules);
    return 0;
  } catch (const InputError& e) {
    PrintProblems(e);
    return 2;
  }
}

int RulesTest(const std::vector<std::string>& files) {
  try {
    return RunRuleTestFiles(files, std::cout);
  } catch (const InputError& e) {
    PrintProblems(e);
    return 2;
  }
}

int PrintStatus(const std::string& config_path, const std::string& profile, bool json) {
  Config config;
  try {
    config = LoadConfig(config_path, BuiltinConfigTypes());
  } catch (const InputError& e) {
    PrintProblems(e);
    return 2;
  }
  auto db = state::Db::Open(config.state_db, state::Db::Mode::kReadOnly);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.message().c_str());
    return 1;
  }
  auto snap = state::ReadSnapshot(**db);
  if (!snap) {
    std::fprintf(stderr, "%s\n", snap.message().c_str());
    return 1;
  }
  // Values read as null (not a number, out of range, not a datetime): said
  // once, on stderr, so that --json output stays parseable.
  for (const auto& v : snap->invalid_values) {
    std::fprintf(stderr, "warning: %s\n", v.ToString().c_str());
  }
  auto rows = state::MonitorTable(*snap);
  std::erase_if(rows, [&](const auto& r) { return !profile.empty() && r.profile != profile; });
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) out.push_back(MonitorJson(r));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-16s %-24s %-14s %-22s %-21s %10s %-11s %s\n", "Profile", "Table", "Sync status",
              "Initial sync", "Last synced on", "Count", "Append only", "Partition strategy");
  for (const auto& r : rows) {
    std::printf("%-16s %-24s %-14s %-22s %-21s %10s %-11s %s\n", r.profile.c_str(), r.table.c_str(),
                r.sync_status.c_str(), r.initial_sync.c_str(),
                r.last_synced ? FormatDateTime(*r.last_synced).c_str() : "",
                r.count ? std::to_string(*r.count).c_str() : "", r.append_only ? "Yes" : "No",
                r.partition.c_str());
  }
  for (const auto& r : rows) {
    if (r.last_error.empty()) continue;
    std::printf("\n%s/%s: last sync error (%s%s%s): %s", r.profile.c_str(), r.table.c_str(),
                r.error_reason.c_str(), r.error_reason.empty() ? "" : ", ",
                r.last_error_at ? FormatDateTime(*r.last_error_at).c_str() : "",
                r.last_error.c_str());
  }
  for (const auto& r : rows) {
    if (!r.last_break_at) continue;
    std::printf(
        "\n%s/%s: last break (%s, %s): %s; %s", r.profile.c_str(), r.table.c_str(),
        r.last_break_reason.c_str(), FormatDateTime(*r.last_break_at).c_str(),
        r.last_break_message.c_str(),
        r.last_break_repaired_at
            ? ("repaired by a resync at " + FormatDateTime(*r.last_break_repaired_at)).c_str()
            : "the table is being resynced");
  }
  for (const auto& r : rows) {
    if (r.failed_records == 0) continue;
    std::printf("\n%s/%s: %lld failed record(s) left out of the lake; latest: %s",
                r.profile.c_str(), r.table.c_str(), r.failed_records, r.failed_reason.c_str());
  }
  if (std::any_of(rows.begin(), rows.end(), [](const auto& r) {
        return !r.last_error.empty() || r.failed_records > 0 || r.last_break_at;
      })) {
    std::printf("\n");
  }
  PrintLinkNotes(config, config_path);
  return 0;
}

int NotifyTestCommand(const std::string& config_path, const std::string& receiver) {
  Loaded loaded;
  try {
    loaded = LoadAll(config_path);
  } catch (const InputError& e) {
    PrintProblems(e);
    return 2;
  }
  const notifiers::ReceiverConfig* rc = nullptr;
  std::string names;
  for (const auto& r : loaded.receivers) {
    if (r.name == receiver) rc = &r;
    names += (names.empty() ? "" : ", ") + r.name;
  }
  if (rc == nullptr) {
    std::fprintf(stderr, "linkwatch notify test: no receiver \"%s\" in %s (receivers: %s)\n",
                 receiver.c_str(), config_path.c_str(), names.empty() ? "none" : names.c_str());
    return 2;
  }
  const double now = ToEpochSeconds(SystemClock::Instance().Now());
  Alert alert;
  alert.labels = {{"alertname", "LinkwatchTest"}, {"severity", "none"}, {"receiver", receiver}};
  alert.annotations = {
      {"summary", "Test notification from linkwatch: receiver " + receiver + " works"},
      {"description", "Sent by `linkwatch notify test`; no alert is firing."}};
  alert.state = AlertState::kFiring;
  alert.starts_at = alert.active_at = now;
  alert.fingerprint = LabelFingerprint(alert.labels);
  notifiers::Notification n;
  n.receiver = receiver;
  n.group_labels = {{"alertname", "LinkwatchTest"}};
  n.group_key = "{}:{alertname=\"LinkwatchTest\"}";
  n.alerts = {alert};
  n.created_at = now;
  n.external_url = LocalUrl(loaded.config.http.listen);
  // The integration itself: templates, the request, and the classification
  // of the provider's answer, as the outbox's worker calls it (without its
  // retries: the answer is printed as it came).
  const notifiers::SendResult result = rc->notifier->Send(n);
  const char* integration = rc->notifier->integration().c_str();
  if (!result.template_error.empty()) {
    std::printf("template error (sent with the default wording): %s\n",
                result.template_error.c_str());
  }
  if (result.ok()) {
    std::printf("receiver %s (%s): delivered%s%s\n", receiver.c_str(), integration,
                result.detail.empty() ? "" : ": ", result.detail.c_str());
    return 0;
  }
  std::printf("receiver %s (%s): failed, %s (%s): %s\n", receiver.c_str(), integration,
              result.kind == notifiers::SendResult::kRetry ? "the agent would retry"
                                                           : "the agent would give up",
              result.reason.c_str(), result.detail.c_str());
  return 1;
}

int RunAgent(const RunOptions& options, Controls& controls) {
  Loaded loaded;
  try {
    loaded = LoadAll(options.config_path);
  } catch (const InputError& e) {
    PrintProblems(e);
    return 2;
  }
  Config& config = loaded.config;
  if (!options.listen_override.empty()) {
    // demo --listen: checked as the config's http.listen is.
    auto hp = ParseListenAddress(options.listen_override);
    Status host = hp.ok() ? CheckListenHost(hp->first) : hp.status();
    if (!host.ok()) {
      std::fprintf(stderr, "--listen: %s\n", host.message().c_str());
      return 2;
    }
    config.http.listen = options.listen_override;
  }
  SetupLogging(config.log_level);
  auto store = state::StateStore::Open(config.state_db);
  if (!store) {
    spdlog::error("state store: {}", store.message());
    return 1;
  }
  const Clock& clock = SystemClock::Instance();
  // What /metrics exposes beside the state collector: each component counts
  // into its own metrics on this one registry.
  prometheus::Registry registry;
  notifiers::NotifierMetrics notifier_metrics(registry);
  watch::WatchMetrics watch_metrics(registry);
  RulesMetrics rules_metrics(registry);
  sync::SyncMetrics sync_metrics(registry);
  AgentMetrics agent_metrics(registry);
  // The sync core: one worker per linked table (none without profiles).
  sync::EngineOptions sync_options;
  sync_options.state_db = config.state_db;
  sync_options.profiles = config.profiles;
  sync_options.sources = &sync::SourceRegistry::Builtin();
  sync_options.destinations = &sync::DestinationRegistry::Builtin();
  sync::SyncEngine sync_engine(sync_options, clock, sync_metrics);
  if (!config.profiles.empty()) {
    if (auto s = sync_engine.Start(); !s.ok()) {
      spdlog::error("sync: {}", s.message());
      return 1;
    }
    if (options.on_sync_started) options.on_sync_started(sync_engine);
  }
  StateCollector collector;
  Published published;

  http::HttpServerOptions http_options;
  http_options.request_timeout = config.http.read_timeout;
  http::HttpServer server(config.http.listen, http_options);

  auto outbox_or = notifiers::Outbox::Open(config.state_db, clock, notifier_metrics);
  if (!outbox_or) {
    spdlog::error("outbox: {}", outbox_or.message());
    return 1;
  }
  notifiers::Outbox& outbox = **outbox_or;
  outbox.SetReceivers(loaded.receivers);
  auto silences_or = notifiers::Silences::Open(config.state_db, clock);
  if (!silences_or) {
    spdlog::error("silences: {}", silences_or.message());
    return 1;
  }
  std::shared_ptr<notifiers::Silences> silences = std::move(silences_or).value();
  auto inhibitor = std::make_shared<notifiers::Inhibitor>(loaded.inhibit_rules);
  // Routing runs on the watcher thread; the API sees the receivers each
  // published alert was routed to.
  ReceiversByAlert receivers_by_alert;

  // The watcher persists alert state through this connection: a writer
  // holding the store must not stall evaluation (issue 7 point 16).
  (*store)->db().SetBusyTimeout(state::Db::kWatcherBusyTimeout);
  watch::StoreHealth store_health((*store)->db(), watch_metrics);
  AlertStore alert_store((*store)->db());
  RuleEngine engine(std::move(loaded.groups), &alert_store, rules_metrics);
  if (auto s = engine.Restore(); !s.ok()) {
    spdlog::error("restoring alerts: {}", s.message());
    return 1;
  }

  std::unique_ptr<watch::Watcher> watcher;
  http::ApiSources api;
  api.alerts = [&] { return published.Alerts(); };
  api.status = [&] {
    nlohmann::json j = published.Status();
    j["stateStore"] = {
        {"path", config.state_db}, {"up", store_health.up()}, {"error", store_health.error()}};
    j["receivers"] = outbox.ReceiversJson();
    nlohmann::json silenced = nlohmann::json::array();
    const double now = ToEpochSeconds(clock.Now());
    for (const auto& s : silences->List()) {
      if (std::string(s.StateAt(now)) != "expired")
        silenced.push_back(notifiers::SilenceToJson(s, now));
    }
    j["silences"] = std::move(silenced);
    return j;
  };
  api.notifications = [&](const std::string& state) { return outbox.ListJson(state); };
  std::atomic<bool> ready{false};
  api.ready = [&] { return ready.load() && store_health.up(); };
  api.not_ready_reason = [&] {
    std::string e = store_health.error();
    return e.empty() ? std::string("not every watch source has been polled yet") : e;
  };
  api.metrics = [&] { return SerializeMetrics({&registry, &collector}); };
  http::AddApiRoutes(server, api);
  http::AlertmanagerApiSources am_api;
  am_api.silences = silences.get();
  am_api.inhibitor = inhibitor.get();
  am_api.alerts = [&] { return published.Alerts(); };
  am_api.receivers = [&](const Alert& a) { return receivers_by_alert.Get(a.fingerprint); };
  am_api.api_token = &config.http.api_token;
  am_api.clock = &clock;
  am_api.started_at = ToEpochSeconds(clock.Now());
  http::AddAlertmanagerRoutes(server, am_api);
  http::DataverseWebhookSources webhooks;
  for (const auto& pc : config.profiles) {
    if (pc.source_type == "dataverse") webhooks.keys[pc.name] = sync::DataverseWebhookKey(pc);
  }
  webhooks.sync_now = [&](const std::string& profile, const std::string& table) {
    return sync_engine.SyncNow(profile, table);
  };
  webhooks.count = [&](const std::string& profile, const std::string& result) {
    sync_metrics.CountWebhook(profile, result);
  };
  http::AddDataverseWebhookRoute(server, std::move(webhooks));
  server.Handle("GET", "/", [&](const http::HttpRequest&) {
    auto page = RenderStatusPage(api.status(), published.Alerts(), ToEpochSeconds(clock.Now()));
    http::HttpResponse r = http::HttpResponse::Text(200, std::move(page));
    r.content_type = "text/html; charset=utf-8";
    return r;
  });
  server.Handle("POST", "/-/reload", [&](const http::HttpRequest& req) {
    if (!http::CheckBearer(req, config.http.api_token)) return http::Unauthorized();
    // Synchronous, as Prometheus: the caller learns whether it worked.
    auto outcome = controls.ReloadAndWait(std::chrono::seconds(60));
    if (!outcome) return http::HttpResponse::Error(503, "the reload did not finish (stopping?)");
    if (!outcome->empty()) return http::HttpResponse::Error(500, *outcome);
    return http::HttpResponse::Json(200, R"({"status":"success"})");
  });
  if (auto s = server.Start(); !s.ok()) {
    spdlog::error("http: {}", s.message());
    return 1;
  }
  const std::string url = LocalUrl(config.http.listen, server.port());
  spdlog::info("linkwatch {} listening on {}", LINKWATCH_VERSION, url);

  notifiers::Router router(loaded.route, outbox, clock, url,
                           notifiers::DispatchOf(loaded.receivers));
  // Alertmanager's mute stages: inhibition, then silences.
  router.SetMuters({inhibitor, silences});
  auto sources = watch::StateSourceRegistry::Builtin().BuildAll(config);
  if (!sources) {  // LoadAll refused what cannot be built: not expected here
    spdlog::error("watch: {}", sources.message());
    return 1;
  }
  // The outbox's commits (a delivered notification) are not changes to the
  // watched data: the state store's source need not read it again for them.
  for (auto& s : *sources) s->SetOwnWriter([&outbox] { return outbox.OthersVersion(); });
  watch::WatcherCallbacks callbacks;
  callbacks.snapshot = [&](const std::string& source, std::shared_ptr<const state::Snapshot> s) {
    collector.Publish(source, s);
    published.SetSnapshot(source, std::move(s));
  };
  callbacks.alerts = [&](const std::vector<Alert>& alerts) {
    collector.PublishAlerts(alerts);
    receivers_by_alert.Set(alerts, router);
    published.SetAlerts(alerts);
  };
  callbacks.sources = [&](const std::vector<watch::SourceStatus>& list) {
    published.SetSources(list);
  };
  callbacks.wake = [&controls] { controls.Wake(); };
  watcher = std::make_unique<watch::Watcher>(
      watch::WatcherOptions{config.watch.interval, config.watch.source_unreachable_for},
      std::move(sources).value(), engine, router, clock, watch_metrics, callbacks);
  outbox.Start();
  if (options.on_listening) options.on_listening(url);

  // The loop sleeps until a watched state file changes (the watcher's
  // sources notify it), timed work is due (polls, group flushes) or a
  // request comes; at least every kTick it looks at the state store's
  // health. While a source cannot notify, it is checked every kChangeTick,
  // so that a committed change is still seen within tens of milliseconds.
  constexpr auto kTick = std::chrono::seconds(1);
  constexpr auto kChangeTick = std::chrono::milliseconds(25);
  auto reloaded = [&](bool ok) { agent_metrics.Reloaded(ok, ToEpochSeconds(clock.Now())); };
  reloaded(true);  // the configuration loaded at start counts as the first
  while (!controls.stop_requested()) {
    store_health.Check();
    watcher->RunOnce();
    if (!ready && watcher->Ready()) ready = true;
    if (controls.TakeReload()) {
      spdlog::info("reloading {}", options.config_path);
      std::string error;
      try {
        Loaded next = LoadAll(options.config_path);
        outbox.SetReceivers(next.receivers);
        router.Replace(next.route, notifiers::DispatchOf(next.receivers));
        inhibitor->Replace(next.inhibit_rules);
        engine.Replace(std::move(next.groups));
        watcher->set_options(
            {next.config.watch.interval, next.config.watch.source_unreachable_for});
        spdlog::info("reload done");
      } catch (const InputError& e) {
        error = e.what();
        spdlog::error("reload failed, keeping the running configuration:\n{}", error);
      }
      reloaded(error.empty());
      controls.ReloadDone(error);
    }
    const Duration tick = watcher->NotifiesChanges() ? Duration(kTick) : Duration(kChangeTick);
    controls.WaitUntil(clock, std::min(watcher->NextWakeup(), clock.Now() + tick));
  }
  spdlog::info("stopping: finishing the current sync batches and deliveries in flight");
  sync_engine.Stop();
  server.Stop();
  outbox.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace linkwatch
