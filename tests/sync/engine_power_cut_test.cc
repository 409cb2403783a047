// The cursor+marker commit across a power cut: the engine commits the lake
// first, then cursor, marker and state rows in one SQLite transaction. The
// lake is written through a fault-injecting Env (tests/core/
// fault_injection_env.h); the process "dies" either between the two commits
// (the lake committed a batch whose cursor was never stored) or after both,
// the power is cut, and a new engine on the same files must bring the lake
// to the source without a break (a resync would hide a lost commit) and
// without writing a change twice. In place and append only; with the state
// store's own unsynced writes lost as well (tests/core/crash_vfs.h).
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "agent/core/clock.h"
#include "agent/state/db.h"
#include "agent/sync/destination_registry.h"
#include "agent/sync/destinations/lake.h"
#include "agent/sync/destinations/lake_verify.h"
#include "agent/sync/engine.h"
#include "agent/sync/sources/sqlite_source.h"
#include "agent/sync/sync_metrics.h"
#include "tests/core/crash_vfs.h"
#include "tests/core/fault_injection_env.h"
#include "tests/sync/engine_test_util.h"

namespace linkwatch::sync {
namespace {

namespace fs = std::filesystem;
using linkwatch::faults::FaultInjectionEnv;

// Set by the test; once `died`, every call fails as if the process were gone.
struct Death {
  std::atomic<bool> after_next_commit{false};
  std::atomic<bool> died{false};
  Status BeforeOpen() const {
    return died ? Status::Error("test: the process is gone") : Status::Ok();
  }
};

class DyingWriter : public testing::ForwardingWriter {
 public:
  DyingWriter(std::unique_ptr<TableWriter> inner, Death& death)
      : ForwardingWriter(std::move(inner)), death_(death) {}
  Status Begin(bool initial, double now) override {
    if (Status s = death_.BeforeOpen(); !s.ok()) return s;
    return inner_->Begin(initial, now);
  }
  Result<BatchResult> Commit() override {
    auto r = inner_->Commit();
    if (r.ok() && death_.after_next_commit.exchange(false)) {
      // The lake committed; the state commit never happens.
      death_.died = true;
      return Status::Error("test: the process died after the lake commit");
    }
    return r;
  }

 private:
  Death& death_;
};

struct EngineCut {
  bool append_only;
  bool die_between_commits;  // else: after both commits
  // The state store's files are cut too (tests/core/crash_vfs.h): what
  // SQLite had not fsynced is lost with the lake's unsynced data.
  bool cut_state_store = false;
};

std::string EngineCutName(const ::testing::TestParamInfo<EngineCut>& info) {
  return std::string(info.param.append_only ? "AppendOnly" : "InPlace") +
         (info.param.die_between_commits ? "DiesBetweenLakeAndStateCommit" : "DiesAfterBoth") +
         (info.param.cut_state_store ? "StateStoreCutToo" : "");
}

// The engine on the manual clock (testing::LakeEngineTest), the real lake
// on the fault-injecting Env wrapped in DyingWriters.
class EnginePowerCutTest : public testing::LakeEngineTest<::testing::TestWithParam<EngineCut>> {
 protected:
  void SetUp() override {
    TableConfig table;
    table.name = "t";
    table.append_only = GetParam().append_only;
    SetUpLake("lw_engine_cut",
              "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, createdon TEXT);"
              "INSERT INTO t VALUES (1, 'a', '2024-01-01T00:00:00Z'), "
              "(2, 'b', '2024-06-01T00:00:00Z'), (3, 'c', '2025-01-01T00:00:00Z');",
              table);
    options_.max_backoff = Millis(200);
  }
  Result<std::shared_ptr<Destination>> OpenLake(const std::string& path) override {
    auto lake = LakeDestination::Open(path, env_);
    if (!lake) return lake.status();
    (*lake)->move_grace = std::chrono::milliseconds(0);
    return std::shared_ptr<Destination>(
        std::make_shared<testing::WrappingDestination<DyingWriter, Death>>(std::move(lake).value(),
                                                                           death_));
  }
  // "" when the lake reads as the source; else what differs.
  std::string LakeVersusSource() {
    LakeVerifyOptions options;
    options.source_path = src_;
    auto report = VerifyLake((dir_ / "lake").string(), options);
    if (!report.ok()) return report.message();
    std::string out;
    for (const auto& p : report->problems) out += p + "\n";
    const TableReport* t = report->Find("t");
    if (t == nullptr) return out + "no table t";
    if (!t->source.compared) out += "not compared with the source\n";
    return out;
  }

  FaultInjectionEnv env_;
  Death death_;
};

TEST_P(EnginePowerCutTest, ALakeCommitSurvivesTheCutAndIsNotWrittenTwice) {
  std::optional<faults::CrashVfs> vfs;
  if (GetParam().cut_state_store) vfs.emplace(/*make_default=*/true);
  {
    SyncEngine engine(options_, clock_, metrics_);
    ASSERT_TRUE(engine.Start().ok());
    ASSERT_TRUE(RunUntil([&] { return Query("SELECT cursor FROM linkwatch_sync_cursor") != ""; }));
    const std::string cursor = Query("SELECT cursor FROM linkwatch_sync_cursor");
    death_.after_next_commit = GetParam().die_between_commits;
    // An update, a record moving to another partition, a new partition, a
    // delete, an insert.
    Source(
        "UPDATE t SET v = 'a2' WHERE id = 1; UPDATE t SET createdon = '2025-02-01T00:00:00Z' "
        "WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (4, 'd', "
        "'2026-03-01T00:00:00Z');");
    if (GetParam().die_between_commits) {
      ASSERT_TRUE(RunUntil([&] { return death_.died.load(); }));
      EXPECT_EQ(Query("SELECT cursor FROM linkwatch_sync_cursor"), cursor)
          << "the state commit did not happen";
    } else {
      ASSERT_TRUE(RunUntil([&] { return LakeVersusSource().empty(); })) << LakeVersusSource();
      ASSERT_TRUE(
          RunUntil([&] { return Query("SELECT cursor FROM linkwatch_sync_cursor") != cursor; }));
    }
    if (vfs) vfs->Cut();  // nothing the engine writes from now on reaches the store
    engine.Stop();
  }
  ASSERT_TRUE(env_.PowerCut().ok());
  if (vfs) {
    ASSERT_TRUE(vfs->Restore().ok());
  }
  death_.died = false;

  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_TRUE(RunUntil([&] {
    return LakeVersusSource().empty() && Query("SELECT count(*) FROM linkwatch_sync_error") == "0";
  })) << LakeVersusSource()
      << Query("SELECT error FROM linkwatch_sync_error");
  engine.Stop();
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_break"), "0")
      << "no resync: " << Query("SELECT reason || ': ' || message FROM linkwatch_sync_break");
}

INSTANTIATE_TEST_SUITE_P(Cuts, EnginePowerCutTest,
                         ::testing::Values(EngineCut{false, true}, EngineCut{false, false},
                                           EngineCut{true, true}, EngineCut{true, false},
                                           EngineCut{false, true, true},
                                           EngineCut{false, false, true},
                                           EngineCut{true, true, true},
                                           EngineCut{true, false, true}),
                         EngineCutName);

}  // namespace
}  // namespace linkwatch::sync
