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
#include <optional>
#include <thread>

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
};

class DyingWriter : public TableWriter {
 public:
  DyingWriter(std::unique_ptr<TableWriter> inner, Death& death)
      : inner_(std::move(inner)), death_(death) {}
  Status Begin(bool initial, double now) override {
    if (death_.died) return Status::Error("test: the process is gone");
    return inner_->Begin(initial, now);
  }
  Status Check() override { return inner_->Check(); }
  void ReportSyncedIds(bool on) override { inner_->ReportSyncedIds(on); }
  Status Put(const RowView& row) override { return inner_->Put(row); }
  Result<BatchResult> Commit() override {
    auto r = inner_->Commit();
    if (r.ok() && death_.after_next_commit.exchange(false)) {
      // The lake committed; the state commit never happens.
      death_.died = true;
      return Status::Error("test: the process died after the lake commit");
    }
    return r;
  }
  void Abort() override { inner_->Abort(); }
  Result<SnapshotResult> Snapshot(double now, int keep) override {
    return inner_->Snapshot(now, keep);
  }
  bool NeedsEveryRowAgain() const override { return inner_->NeedsEveryRowAgain(); }
  void EveryRowLogged() override { inner_->EveryRowLogged(); }

 private:
  std::unique_ptr<TableWriter> inner_;
  Death& death_;
};

class DyingDestination : public Destination {
 public:
  DyingDestination(std::unique_ptr<Destination> inner, Death& death)
      : inner_(std::move(inner)), death_(death) {}
  Result<std::unique_ptr<TableWriter>> OpenTable(const TableSchema& schema,
                                                 const TableOptions& options,
                                                 const std::string& marker) override {
    if (death_.died) return Status::Error("test: the process is gone");
    auto w = inner_->OpenTable(schema, options, marker);
    if (!w) return w.status();
    return std::unique_ptr<TableWriter>(
        std::make_unique<DyingWriter>(std::move(w).value(), death_));
  }

 private:
  std::unique_ptr<Destination> inner_;
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

class EnginePowerCutTest : public ::testing::TestWithParam<EngineCut> {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("lw_engine_cut");
    src_ = (dir_ / "crm.db").string();
    Source(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, createdon TEXT);"
        "INSERT INTO t VALUES (1, 'a', '2024-01-01T00:00:00Z'), (2, 'b', '2024-06-01T00:00:00Z'),"
        "(3, 'c', '2025-01-01T00:00:00Z');");
    ASSERT_TRUE(EnableChangeTracking(src_, {"t"}).ok());
    options_.state_db = (dir_ / "state.db").string();
    options_.supervise_every = Millis(100);
    options_.max_backoff = Millis(200);
    TableConfig table;
    table.name = "t";
    table.append_only = GetParam().append_only;
    options_.profiles = {testing::LakeProfile(src_, (dir_ / "lake").string(), table)};
    // The real lake on the fault-injecting Env, registered as "lake" in this
    // test's registry.
    destinations_.Register("lake", [this](const YAML::Node&, const BlockContext& ctx) {
      return DestinationOpener([this, path = ctx.path]() -> Result<std::shared_ptr<Destination>> {
        auto lake = LakeDestination::Open(path, env_);
        if (!lake) return lake.status();
        (*lake)->move_grace = std::chrono::milliseconds(0);
        return std::shared_ptr<Destination>(
            std::make_shared<DyingDestination>(std::move(lake).value(), death_));
      });
    });
    options_.destinations = &destinations_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  template <typename F>
  bool WaitFor(F predicate) {
    return testing::WaitFor(predicate);
  }
  std::string Query(const std::string& sql) { return testing::QueryOne(options_.state_db, sql); }
  void Source(const std::string& sql) {
    auto db = state::Db::Open(src_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(sql).ok());
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

  fs::path dir_;
  std::string src_;
  EngineOptions options_;
  FaultInjectionEnv env_;
  Death death_;
  DestinationRegistry destinations_;
  prometheus::Registry registry_;
  SyncMetrics metrics_{registry_};
};

TEST_P(EnginePowerCutTest, ALakeCommitSurvivesTheCutAndIsNotWrittenTwice) {
  std::optional<faults::CrashVfs> vfs;
  if (GetParam().cut_state_store) vfs.emplace(/*make_default=*/true);
  {
    SyncEngine engine(options_, SystemClock::Instance(), metrics_);
    ASSERT_TRUE(engine.Start().ok());
    ASSERT_TRUE(WaitFor([&] { return Query("SELECT cursor FROM linkwatch_sync_cursor") != ""; }));
    const std::string cursor = Query("SELECT cursor FROM linkwatch_sync_cursor");
    death_.after_next_commit = GetParam().die_between_commits;
    // An update, a record moving to another partition, a new partition, a
    // delete, an insert.
    Source(
        "UPDATE t SET v = 'a2' WHERE id = 1; UPDATE t SET createdon = '2025-02-01T00:00:00Z' "
        "WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (4, 'd', "
        "'2026-03-01T00:00:00Z');");
    if (GetParam().die_between_commits) {
      ASSERT_TRUE(WaitFor([&] { return death_.died.load(); }));
      EXPECT_EQ(Query("SELECT cursor FROM linkwatch_sync_cursor"), cursor)
          << "the state commit did not happen";
    } else {
      ASSERT_TRUE(WaitFor([&] { return LakeVersusSource().empty(); })) << LakeVersusSource();
      ASSERT_TRUE(
          WaitFor([&] { return Query("SELECT cursor FROM linkwatch_sync_cursor") != cursor; }));
    }
    if (vfs) vfs->Cut();  // nothing the engine writes from now on reaches the store
    engine.Stop();
  }
  ASSERT_TRUE(env_.PowerCut().ok());
  if (vfs) {
    ASSERT_TRUE(vfs->Restore().ok());
  }
  death_.died = false;

  SyncEngine engine(options_, SystemClock::Instance(), metrics_);
  ASSERT_TRUE(engine.Start().ok());
  EXPECT_TRUE(WaitFor([&] {
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
