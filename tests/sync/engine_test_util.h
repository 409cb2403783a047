// Shared scaffolding of the SyncEngine tests (engine_test, engine_break_test,
// engine_power_cut_test, lake_values_test): a fresh folder per test, a
// one-table SQLite-source to lake profile, one value of the state store, a
// run of the engine's threads on a manual clock until a condition holds,
// and the fixture of the tests that run the engine on the real lake wrapped
// to inject faults (ForwardingWriter, WrappingDestination, LakeEngineTest).
//
// Nothing here sleeps: RunUntil waits until every thread of the engine is
// parked on the manual clock (no round in flight), and only then looks and
// moves the clock on.
#pragma once

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "agent/core/clock.h"
#include "agent/core/config.h"
#include "agent/state/db.h"
#include "agent/sync/destination.h"
#include "agent/sync/destination_registry.h"
#include "agent/sync/engine.h"
#include "agent/sync/sources/sqlite_source.h"
#include "agent/sync/sync_metrics.h"
#include "tests/fakes/test_dir.h"

namespace linkwatch::sync::testing {

using fakes::FreshTestDir;

// Profile "crm": the SQLite file `source` into the lake `lake`, table `table`,
// a round every 100 ms.
inline ProfileConfig LakeProfile(const std::string& source, const std::string& lake,
                                 TableConfig table) {
  ProfileConfig profile;
  profile.name = "crm";
  profile.source_type = "sqlite";
  profile.source_path = source;
  profile.destination_type = "lake";
  profile.destination_path = lake;
  profile.sync_interval = Millis(100);
  profile.tables = {std::move(table)};
  return profile;
}

// One value (a fresh read-only connection): "" for null or no row.
inline std::string QueryOne(const std::string& db_path, const std::string& sql) {
  auto db = state::Db::Open(db_path, state::Db::Mode::kReadOnly);
  if (!db.ok()) return "<no db>";
  auto st = (*db)->Prepare(sql);
  if (!st.ok()) return "<" + st.message() + ">";
  if (!st->Step() || st->IsNull(0)) return "";
  return st->Text(0);
}

// Runs an engine on `clock` until `done` holds. Each turn waits until all
// of the engine's threads (SyncEngine::PoolSize pool threads and the
// supervisor) are parked on the clock, so that no round is in flight, then
// checks `done`, and else sets the clock to the earliest deadline they wait
// for (a round, a backoff, the supervisor's turn). False when `done` still
// fails once nothing waits for a time, or after a minute of wall time (a
// guard against a hanging test, not a wait).
template <typename F>
bool RunUntil(ManualClock& clock, const EngineOptions& options, F done) {
  const size_t threads = SyncEngine::PoolSize(options) + 1;
  const auto guard = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (std::chrono::steady_clock::now() < guard) {
    if (!clock.AwaitWaiters(threads)) break;
    if (done()) return true;
    const TimePoint next = clock.NextDeadline();
    if (next == TimePoint::max()) break;
    clock.Set(std::max(next, clock.Now()));
  }
  return done();
}

// A TableWriter that hands every call to the real one; a test derives from
// it to inject a fault into the calls it overrides.
class ForwardingWriter : public TableWriter {
 public:
  explicit ForwardingWriter(std::unique_ptr<TableWriter> inner) : inner_(std::move(inner)) {}
  Status Begin(bool initial, double now) override { return inner_->Begin(initial, now); }
  void ReportSyncedIds(bool on) override { inner_->ReportSyncedIds(on); }
  Status Put(const RowView& row) override { return inner_->Put(row); }
  Result<BatchResult> Commit() override { return inner_->Commit(); }
  void Abort() override { inner_->Abort(); }
  Status Check() override { return inner_->Check(); }
  Result<SnapshotResult> Snapshot(double now, int keep) override {
    return inner_->Snapshot(now, keep);
  }
  bool NeedsEveryRowAgain() const override { return inner_->NeedsEveryRowAgain(); }
  void EveryRowLogged() override { inner_->EveryRowLogged(); }

 protected:
  std::unique_ptr<TableWriter> inner_;
};

// A destination whose table writers are a test's `Writer(inner, faults)`.
// `faults.BeforeOpen()` may refuse to open a table (before the real
// destination is touched).
template <class Writer, class Faults>
class WrappingDestination : public Destination {
 public:
  WrappingDestination(std::unique_ptr<Destination> inner, Faults& faults)
      : inner_(std::move(inner)), faults_(faults) {}
  Result<std::unique_ptr<TableWriter>> OpenTable(const TableSchema& schema,
                                                 const TableOptions& options,
                                                 const std::string& marker) override {
    if (Status s = faults_.BeforeOpen(); !s.ok()) return s;
    auto w = inner_->OpenTable(schema, options, marker);
    if (!w) return w.status();
    return std::unique_ptr<TableWriter>(std::make_unique<Writer>(std::move(w).value(), faults_));
  }

 private:
  std::unique_ptr<Destination> inner_;
  Faults& faults_;
};

// The fixture of the engine tests on the real lake: the SQLite source
// crm.db, the state store, the profile "crm" with one table into
// <dir>/lake, and "lake" registered in the test's own registry as what
// OpenLake returns (the real lake, wrapped). The engine runs on clock_.
template <class Base = ::testing::Test>
class LakeEngineTest : public Base {
 protected:
  // The lake at `path`, as the test wraps it.
  virtual Result<std::shared_ptr<Destination>> OpenLake(const std::string& path) = 0;

  // Creates the source from `source_sql` (change tracking on `table`) and
  // the options; call from SetUp.
  void SetUpLake(const std::string& prefix, const std::string& source_sql, TableConfig table) {
    dir_ = FreshTestDir(prefix);
    src_ = (dir_ / "crm.db").string();
    Source(source_sql);
    ASSERT_TRUE(EnableChangeTracking(src_, {table.name}).ok());
    options_.state_db = (dir_ / "state.db").string();
    options_.supervise_every = Millis(100);
    options_.profiles = {LakeProfile(src_, (dir_ / "lake").string(), std::move(table))};
    destinations_.Register("lake", [this](const YAML::Node&, const BlockContext& ctx) {
      return DestinationOpener([this, path = ctx.path] { return OpenLake(path); });
    });
    options_.destinations = &destinations_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  template <typename F>
  bool RunUntil(F done) {
    return testing::RunUntil(clock_, options_, done);
  }
  // Moves the clock one sync_interval on and waits until a pool thread waits
  // for the interval after it (what came due has run: an idle tick, a
  // round). False when none does.
  bool NextTick() {
    const Millis interval = options_.profiles[0].sync_interval;
    const TimePoint now = clock_.Now() + interval;
    clock_.Set(now);
    return clock_.AwaitDeadline(now + Millis(1), now + interval);
  }
  std::string Query(const std::string& sql) { return QueryOne(options_.state_db, sql); }
  // Runs `sql` on the source (its own connection, as another program would).
  void Source(const std::string& sql) {
    auto db = state::Db::Open(src_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(sql).ok()) << sql;
  }

  std::filesystem::path dir_;
  std::string src_;
  DestinationRegistry destinations_;
  EngineOptions options_;
  prometheus::Registry registry_;
  SyncMetrics metrics_{registry_};
  ManualClock clock_{FromEpochSeconds(1767225600)};  // 2026-01-01T00:00:00Z
};

}  // namespace linkwatch::sync::testing
