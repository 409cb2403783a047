// /metrics benchmark (the spec's benchmarks.md, "/metrics"): one scrape with
// 10,000 entities (100 profiles x 100 tables, every column filled) and 100
// firing alerts, plus every component's own metrics with traffic.
// Target: <= 50 ms per scrape. Timed three ways: Collect + TextSerializer
// (what /metrics runs), Collect alone, and a full HTTP GET /metrics over
// loopback through HttpServer.
//
//   build-X/bench/metrics_bench
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "agent/http/api.h"
#include "agent/http/server.h"
#include "agent/sync/sync_metrics.h"
#include "agent/watch/watch_metrics.h"
#include "exporters/agent_metrics.h"
#include "exporters/exposition.h"
#include "exporters/state_collector.h"
#include "notifiers/notifier_metrics.h"
#include "rules/rules_metrics.h"

namespace linkwatch {
namespace {

using state::Cell;
using state::TableId;

constexpr int kProfiles = 100;
constexpr int kTablesPerProfile = 100;
constexpr int kFiringAlerts = 100;

void Set(state::Row& row, const state::TableDef& def, const char* column, Cell cell) {
  row[def.ColumnIndex(column)] = std::move(cell);
}

std::shared_ptr<const state::Snapshot> BigSnapshot() {
  auto snap = std::make_shared<state::Snapshot>();
  const auto& pdef = state::Table(TableId::kProfile);
  const auto& edef = state::Table(TableId::kEntityState);
  for (int p = 0; p < kProfiles; ++p) {
    const std::string id = "00000000-0000-4000-8000-" + std::to_string(100000000000 + p);
    state::Row prow(pdef.columns.size());
    Set(prow, pdef, "synapselinkprofileid", snap->Text(id));
    Set(prow, pdef, "name", snap->Text("profile-" + std::to_string(p)));
    Set(prow, pdef, "profilestate", Cell::Number(p % 10 == 0 ? 2 : 1));
    (*snap)[TableId::kProfile].rows.push_back(std::move(prow));
    for (int t = 0; t < kTablesPerProfile; ++t) {
      state::Row row(edef.columns.size());
      Set(row, edef, "entityname", snap->Text("table_" + std::to_string(t)));
      Set(row, edef, "profile", snap->Text(id));
      Set(row, edef, "syncstate", Cell::Number(t % 7 == 0 ? 8 : 2));
      Set(row, edef, "initialsyncstate", Cell::Number(4));
      Set(row, edef, "lastsynceddatatime", Cell::Number(1767225600.0 + p * 100 + t));
      Set(row, edef, "crmrecordcount", Cell::Number(100000 + t));
      Set(row, edef, "lakerecordcount", Cell::Number(99990 + t));
      (*snap)[TableId::kEntityState].rows.push_back(std::move(row));
    }
  }
  return snap;
}

std::vector<Alert> FiringAlerts() {
  const char* names[] = {"SyncStalled", "InitialSyncFailed", "CountDrift", "ProfileError"};
  std::vector<Alert> alerts;
  for (int i = 0; i < kFiringAlerts; ++i) {
    Alert a;
    a.labels = {{"alertname", names[i % 4]},
                {"severity", i % 4 == 2 ? "warning" : "critical"},
                {"source", "local"},
                {"profile", "profile-" + std::to_string(i % kProfiles)},
                {"entity", "table_" + std::to_string(i)}};
    a.state = AlertState::kFiring;
    alerts.push_back(std::move(a));
  }
  return alerts;
}

struct Fixture {
  Fixture() {
    collector.Publish("local", BigSnapshot());
    collector.PublishAlerts(FiringAlerts());
    for (int r = 0; r < 5; ++r) {
      const std::string receiver = "receiver-" + std::to_string(r);
      notifier_metrics.Delivered(receiver, "webhook", 0.1);
      notifier_metrics.SetPending(receiver, r);
    }
    for (int i = 0; i < 100; ++i) watch_metrics.CountPoll("local");
    rules_metrics.EvaluationDuration("synapse-link").Observe(0.01);
  }
  std::string Scrape() const { return SerializeMetrics({&registry, &collector}); }

  // Every component's metrics on one registry, as the agent builds them.
  prometheus::Registry registry;
  notifiers::NotifierMetrics notifier_metrics{registry};
  watch::WatchMetrics watch_metrics{registry};
  RulesMetrics rules_metrics{registry};
  sync::SyncMetrics sync_metrics{registry};
  AgentMetrics agent_metrics{registry};
  StateCollector collector;
};

Fixture& Shared() {
  static Fixture f;
  return f;
}

void BM_MetricsScrape(benchmark::State& state) {
  Fixture& f = Shared();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = f.Scrape();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["entities"] = kProfiles * kTablesPerProfile;
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetLabel("target <= 50 ms per scrape");
}
BENCHMARK(BM_MetricsScrape)->Unit(benchmark::kMillisecond);

void BM_StateCollectOnly(benchmark::State& state) {
  Fixture& f = Shared();
  for (auto _ : state) {
    auto families = f.collector.Collect();
    benchmark::DoNotOptimize(families);
  }
}
BENCHMARK(BM_StateCollectOnly)->Unit(benchmark::kMillisecond);

// GET /metrics over loopback: one fresh connection per scrape, as Prometheus
// does after an idle period.
std::string HttpGet(int port, const std::string& target) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[1 << 16];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

void BM_MetricsScrapeOverHttp(benchmark::State& state) {
  Fixture& f = Shared();
  http::HttpServer server("127.0.0.1:0");
  http::ApiSources sources;
  sources.metrics = [&f] { return f.Scrape(); };
  http::AddApiRoutes(server, std::move(sources));
  if (!server.Start().ok()) {
    state.SkipWithError("cannot start the HTTP server");
    return;
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string answer = HttpGet(server.port(), "/metrics");
    if (answer.compare(0, 12, "HTTP/1.1 200") != 0) {
      state.SkipWithError("scrape failed");
      break;
    }
    bytes = answer.size();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetLabel("target <= 50 ms per scrape");
}
BENCHMARK(BM_MetricsScrapeOverHttp)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace linkwatch

BENCHMARK_MAIN();
