// Pipes a realistic scrape (every component's metrics on one registry with
// traffic in every family, plus the StateCollector over a few profiles and
// alerts)
// through `promtool check metrics`, which lints names, types and help.
#include <gtest/gtest.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/sync/sync_metrics.h"
#include "agent/watch/watch_metrics.h"
#include "exporters/agent_metrics.h"
#include "exporters/exposition.h"
#include "exporters/state_collector.h"
#include "notifiers/notifier_metrics.h"
#include "rules/rules_metrics.h"
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
  // Every component's metrics on one registry, as the agent builds them.
  static prometheus::Registry registry;
  static notifiers::NotifierMetrics notifier_metrics(registry);
  static watch::WatchMetrics watch_metrics(registry);
  static RulesMetrics rules_metrics(registry);
  static sync::SyncMetrics sync_metrics(registry);
  static AgentMetrics agent_metrics(registry);
  static const auto table = sync_metrics.ForTable("crm", "account");
  notifier_metrics.InitReceiver("hooks", "webhook");
  notifier_metrics.Delivered("hooks", "webhook", 0.12);
  notifier_metrics.Failed("hooks", "webhook", "serverError");
  notifier_metrics.Dead("hooks", "webhook", "expired");
  notifier_metrics.SetPending("hooks", 2);
  notifier_metrics.CountStateStoreWriteError();
  watch_metrics.AddSource("local");
  watch_metrics.CountPoll("local");
  watch_metrics.CountPollError("local");
  watch_metrics.CountInvalidValue("local", "synapselinkprofileentitystate", "syncstate");
  rules_metrics.EvaluationDuration("synapse-link").Observe(0.002);
  table->CountChanges(0, 42, 0);
  table->ObserveLag(0.3);
  table->CountError("round_failed");
  table->SetCurrentError("round_failed");
  agent_metrics.Reloaded(true, 1767225600);

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
  return SerializeMetrics({&registry, &collector});
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
