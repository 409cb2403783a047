// Pipes a realistic scrape (linkwatch's Metrics registry with traffic in
// every family, plus the StateCollector over a few profiles and alerts)
// through `promtool check metrics`, which lints names, types and help.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "exporters/exposition.h"
#include "exporters/metrics.h"
#include "exporters/state_collector.h"
#include "tests/http/snapshot_builder.h"

namespace linkwatch {
namespace {

using state::TableId;
using testing::AddRow;
using testing::Num;
using testing::Str;

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string dirs = path;
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = dirs.find(':', start);
    const std::string dir = dirs.substr(start, end - start);
    if (!dir.empty() && std::filesystem::exists(std::filesystem::path(dir) / program)) return true;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return false;
}

// Runs a shell command, returning its combined output and exit status.
std::pair<int, std::string> RunShell(const std::string& command) {
  std::string output;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) output.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string RealisticScrape() {
  static Metrics metrics;  // families register once per registry
  metrics.notifications_total.Add({{"receiver", "hooks"}, {"integration", "webhook"}}).Increment(3);
  metrics.notifications_failed_total
      .Add({{"receiver", "hooks"}, {"integration", "webhook"}, {"reason", "serverError"}})
      .Increment();
  metrics.notifications_dead_total
      .Add({{"receiver", "hooks"}, {"integration", "webhook"}, {"reason", "expired"}})
      .Increment();
  metrics.notification_latency_seconds
      .Add({{"receiver", "hooks"}, {"integration", "webhook"}}, Metrics::LatencyBuckets())
      .Observe(0.12);
  metrics.outbox_pending.Add({{"receiver", "hooks"}}).Set(2);
  metrics.watch_polls_total.Add({{"source", "local"}}).Increment(10);
  metrics.watch_poll_errors_total.Add({{"source", "local"}}).Increment();
  metrics.rule_evaluation_duration_seconds
      .Add({{"group", "synapse-link"}}, Metrics::LatencyBuckets())
      .Observe(0.002);
  metrics.sync_changes_total.Add({{"profile", "crm"}, {"entity", "account"}, {"op", "update"}})
      .Increment(42);
  metrics.sync_lag_seconds.Add({{"profile", "crm"}}, Metrics::LatencyBuckets()).Observe(0.3);

  auto snap = std::make_shared<state::Snapshot>();
  const char* tables[] = {"account", "contact", "opportunity"};
  for (int p = 0; p < 2; ++p) {
    const std::string id = "p-" + std::to_string(p), name = p == 0 ? "crm" : "sales";
    AddRow(*snap, TableId::kProfile,
           {{"synapselinkprofileid", Str(id)},
            {"name", Str(name)},
            {"profilestate", Num(p == 0 ? 1 : 2)}});
    for (int t = 0; t < 3; ++t) {
      AddRow(*snap, TableId::kEntityState,
             {{"entityname", Str(tables[t])},
              {"profile", Str(id)},
              {"syncstate", Num(t == 2 ? 8 : 2)},
              {"initialsyncstate", Num(4)},
              {"lastsynceddatatime", Num(1767225600.25 + t)},
              {"crmrecordcount", Num(1000 + t)},
              {"lakerecordcount", Num(990 + t)}});
    }
  }
  StateCollector collector;
  collector.Publish("local", snap);
  Alert a;
  a.labels = {{"alertname", "SyncStalled"}, {"severity", "critical"}};
  a.state = AlertState::kFiring;
  Alert b = a;
  b.state = AlertState::kPending;
  collector.PublishAlerts({a, b});
  return SerializeMetrics({&metrics.registry(), &collector});
}

TEST(PromtoolTest, CheckMetricsReportsNothing) {
  if (!OnPath("promtool")) GTEST_SKIP() << "promtool is not on PATH";
  const std::string scrape = RealisticScrape();
  ASSERT_NE(scrape.find("linkwatch_build_info"), std::string::npos);
  ASSERT_NE(scrape.find("linkwatch_entity_sync_state{"), std::string::npos);
  ASSERT_NE(scrape.find("linkwatch_notification_latency_seconds_bucket{"), std::string::npos);
  const auto file = std::filesystem::temp_directory_path() /
                    ("linkwatch-promtool-" + std::to_string(getpid()) + ".prom");
  std::ofstream(file) << scrape;
  const auto [status, output] = RunShell("promtool check metrics < " + file.string());
  std::filesystem::remove(file);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "scrape was:\n" << scrape;
}

}  // namespace
}  // namespace linkwatch
