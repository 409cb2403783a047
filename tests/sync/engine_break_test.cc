// The engine's break path (docs/sync.md "Breaks") and its bookkeeping: a
// break forgets the cursor, shows RequestedInitialData while the table is
// resynced, counts the per-table error metric, keeps the break as the last
// break with its repair time; a crash before the repair resyncs on the next
// start; a batch in flight when `tables remove` ran writes no state (issue 8
// point 10). The destination is the real lake, wrapped to inject faults;
// the engine runs on a manual clock, so backoffs and rounds come due when
// the test moves the clock (RunUntil), never by waiting in real time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "agent/core/clock.h"
#include "agent/core/time_format.h"
#include "agent/state/db.h"
#include "agent/state/monitor.h"
#include "agent/state/state_store.h"
#include "agent/sync/destination_registry.h"
#include "agent/sync/destinations/lake.h"
#include "agent/sync/engine.h"
#include "agent/sync/sources/sqlite_source.h"
#include "agent/sync/state_rows.h"
#include "agent/sync/sync_metrics.h"
#include "tests/fakes/metric_value.h"
#include "tests/sync/engine_test_util.h"

namespace linkwatch::sync {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// What the wrapped writers do besides writing; set by the test thread, read
// by the worker.
struct Faults {
  std::atomic<bool> break_next_round{false};  // the next Begin(false) is a break
  std::atomic<bool> fail_initial{false};      // Begin(true) fails (a crash stand-in)
  std::atomic<bool> break_in_read{false};     // the next incremental Put is a break
  std::atomic<int> initial_begins{0};
  std::atomic<int> round_begins{0};  // Begin(false): incremental rounds
  std::atomic<int> checks{0};        // Check(): an idle table's destination check
  std::mutex mu;
  std::function<void()> after_commit;  // run once after the next Commit
  Status BeforeOpen() const { return Status::Ok(); }
};

class FaultyWriter : public testing::ForwardingWriter {
 public:
  FaultyWriter(std::unique_ptr<TableWriter> inner, Faults& faults)
      : ForwardingWriter(std::move(inner)), faults_(faults) {}
  Status Begin(bool initial, double now) override {
    initial_ = initial;
    if (initial) {
      ++faults_.initial_begins;
      if (faults_.fail_initial) return Status::Error("test: the process died here");
    } else if (++faults_.round_begins; faults_.break_next_round.exchange(false)) {
      return Status::Break("partition_missing", "test: partition 2025.csv is gone");
    }
    return inner_->Begin(initial, now);
  }
  // An idle table's check of what it committed finds the same break.
  Status Check() override {
    ++faults_.checks;
    if (faults_.break_next_round.exchange(false)) {
      return Status::Break("partition_missing", "test: partition 2025.csv is gone");
    }
    return inner_->Check();
  }
  // A break found in the middle of reading changes (as Source::ReadChanges
  // reports one): the batch is aborted.
  Status Put(const RowView& row) override {
    if (!initial_ && faults_.break_in_read.exchange(false)) {
      return Status::Break("source_restored", "test: the change clock went back");
    }
    return inner_->Put(row);
  }
  Result<BatchResult> Commit() override {
    auto r = inner_->Commit();
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(faults_.mu);
      hook.swap(faults_.after_commit);
    }
    if (hook) hook();
    return r;
  }

 private:
  Faults& faults_;
  bool initial_ = false;
};

// The engine on the manual clock (testing::LakeEngineTest), the real lake
// wrapped in FaultyWriters.
class EngineBreakTest : public testing::LakeEngineTest<> {
 protected:
  void SetUp() override {
    SetUpLake("lw_engine_break",
              "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, createdon TEXT);"
              "INSERT INTO t VALUES (1, 'a', '2025-01-01T00:00:00Z'), "
              "(2, 'b', '2025-01-01T00:00:00Z');",
              {"t"});
    options_.max_backoff = Millis(2000);
  }
  Result<std::shared_ptr<Destination>> OpenLake(const std::string& path) override {
    auto lake = LakeDestination::Open(path);
    if (!lake) return lake.status();
    return std::shared_ptr<Destination>(
        std::make_shared<testing::WrappingDestination<FaultyWriter, Faults>>(
            std::move(lake).value(), faults_));
  }

  std::string SyncState() {
    return Query("SELECT syncstate || '/' || initialsyncstate FROM synapselinkprofileentitystate");
  }
  std::string Lake() {
    std::string all;
    for (const auto& e : fs::directory_iterator(dir_ / "lake" / "t")) {
      if (e.path().extension() != ".csv") continue;
      auto db = std::ifstream(e.path());
      all += std::string(std::istreambuf_iterator<char>(db), {});
    }
    return all;
  }
  // A sample of the scrape; 0 when the series does not exist.
  double Value(std::string_view name, const std::map<std::string, std::string>& labels) {
    return fakes::MetricValue(registry_, name, labels).value_or(0);
  }

  Faults faults_;
  const std::map<std::string, std::string> break_labels_{
      {"profile", "crm"}, {"entity", "t"}, {"reason", "partition_missing"}};
};

TEST_F(EngineBreakTest, ABreakIsRepairedByAResyncAndKeptAsTheLastBreak) {
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
  ASSERT_NE(Query("SELECT cursor FROM linkwatch_sync_cursor"), "");
  EXPECT_EQ(faults_.initial_begins, 1);

  // The resync is held (fails) so that the state while repairing can be
  // looked at; a change made meanwhile must reach the lake through it.
  faults_.fail_initial = true;
  faults_.break_next_round = true;
  Source("UPDATE t SET v = 'changed' WHERE id = 2");
  ASSERT_TRUE(RunUntil([&] { return faults_.initial_begins >= 2; }));
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_cursor"), "0") << "the cursor is forgotten";
  EXPECT_EQ(SyncState(), "16/4") << "RequestedInitialData while repairing; initial stays";
  EXPECT_EQ(Query("SELECT reason || '|' || message FROM linkwatch_sync_break"),
            "partition_missing|test: partition 2025.csv is gone");
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_break WHERE repaired_at IS NULL"), "1");
  EXPECT_EQ(Value("linkwatch_sync_table_errors_total", break_labels_), 1);
  {
    auto db = state::Db::Open(options_.state_db, state::Db::Mode::kReadOnly);
    ASSERT_TRUE(db.ok());
    auto snap = state::ReadSnapshot(**db);
    ASSERT_TRUE(snap.ok());
    const auto rows = state::MonitorTable(*snap);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].sync_status, "RequestedInitialData");
    EXPECT_EQ(rows[0].last_break_reason, "partition_missing");
    EXPECT_FALSE(rows[0].last_break_repaired_at.has_value());
    EXPECT_FALSE(rows[0].last_error.empty());
  }

  faults_.fail_initial = false;
  ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_error"), "0") << "the error is cleared";
  EXPECT_EQ(Query("SELECT reason FROM linkwatch_sync_break WHERE repaired_at >= at"),
            "partition_missing")
      << "the break stays as the last break, with its repair time";
  EXPECT_NE(Query("SELECT cursor FROM linkwatch_sync_cursor"), "");
  EXPECT_EQ(Value("linkwatch_sync_table_errors_total", break_labels_), 1)
      << "one break, counted once";
  // The gauge of the current error is gone once a round committed.
  for (const auto& family : registry_.Collect()) {
    if (family.name != "linkwatch_sync_table_error") continue;
    for (const auto& m : family.metric) EXPECT_EQ(m.gauge.value, 0) << "no current error";
  }
  engine.Stop();
  EXPECT_THAT(Lake(), HasSubstr(",changed,")) << Lake();
}

TEST_F(EngineBreakTest, ABreakFoundWhileReadingChangesAbortsTheBatchAndResyncs) {
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
  faults_.break_in_read = true;
  Source("INSERT INTO t VALUES (4, 'new', '2025-01-01T00:00:00Z')");
  ASSERT_TRUE(RunUntil([&] {
    return Query("SELECT reason FROM linkwatch_sync_break WHERE repaired_at IS NOT NULL") ==
           "source_restored";
  }));
  ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
  EXPECT_EQ(faults_.initial_begins, 2) << "resynced once";
  EXPECT_EQ(Query("SELECT lakerecordcount FROM synapselinkprofileentitystate"), "3");
  EXPECT_EQ(Value("linkwatch_sync_table_errors_total",
                  {{"profile", "crm"}, {"entity", "t"}, {"reason", "source_restored"}}),
            1);
  engine.Stop();
  EXPECT_THAT(Lake(), HasSubstr(",new,"));
}

TEST_F(EngineBreakTest, TheCurrentErrorGaugeShowsTheReasonWhileTheRepairFails) {
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
  faults_.fail_initial = true;
  faults_.break_next_round = true;
  auto gauge = [&](const std::string& reason) {
    for (const auto& family : registry_.Collect()) {
      if (family.name != "linkwatch_sync_table_error") continue;
      for (const auto& m : family.metric) {
        for (const auto& l : m.label) {
          if (l.name == "reason" && l.value == reason) return m.gauge.value;
        }
      }
    }
    return -1.0;  // absent
  };
  ASSERT_TRUE(RunUntil([&] { return gauge("round_failed") == 1; }))
      << "the failed resync is the current error";
  EXPECT_EQ(gauge("partition_missing"), -1.0) << "one current reason per table";
  EXPECT_EQ(Query("SELECT reason FROM linkwatch_sync_error"), "round_failed");
  faults_.fail_initial = false;
  ASSERT_TRUE(RunUntil([&] { return gauge("round_failed") == -1.0; }));
  engine.Stop();
}

TEST_F(EngineBreakTest, ACrashBeforeTheRepairCommittedResyncsOnTheNextStart) {
  {
    SyncEngine engine(options_, clock_, metrics_);
    ASSERT_TRUE(engine.Start().ok());
    ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
    faults_.fail_initial = true;
    faults_.break_next_round = true;
    ASSERT_TRUE(RunUntil([&] { return faults_.initial_begins >= 2; }));
    engine.Stop();  // the process is gone before the resync committed
  }
  ASSERT_EQ(SyncState(), "16/4");
  ASSERT_EQ(Query("SELECT count(*) FROM linkwatch_sync_cursor"), "0");
  Source("INSERT INTO t VALUES (3, 'after', '2025-01-01T00:00:00Z')");
  faults_.fail_initial = false;
  const int begins = faults_.initial_begins;
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
  EXPECT_GT(faults_.initial_begins, begins) << "the next start resyncs";
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_break WHERE repaired_at IS NOT NULL"), "1");
  EXPECT_EQ(Query("SELECT lakerecordcount FROM synapselinkprofileentitystate"), "3");
  engine.Stop();
  EXPECT_THAT(Lake(), HasSubstr(",after,"));
}

// The per-table error metric counts every recorded failure under its
// reason: a table that cannot be synced (`unsyncable`), and an initial sync
// failing for the third time (`initial_failed`, once).
TEST_F(EngineBreakTest, FailuresAreCountedByReason) {
  options_.profiles[0].tables = {{"t"}, {"nosuch"}};
  faults_.fail_initial = true;
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  auto count = [&](const std::string& entity, const std::string& reason) {
    return Value("linkwatch_sync_table_errors_total",
                 {{"profile", "crm"}, {"entity", entity}, {"reason", reason}});
  };
  ASSERT_TRUE(RunUntil([&] { return count("nosuch", "unsyncable") >= 2; }));
  EXPECT_EQ(Query("SELECT metadatastate || '/' || syncstate FROM synapselinkprofileentitystate "
                  "WHERE entityname = 'nosuch'"),
            "16/1");
  EXPECT_EQ(Query("SELECT reason FROM linkwatch_sync_error WHERE entity = 'nosuch'"), "unsyncable");
  ASSERT_TRUE(RunUntil([&] { return count("t", "round_failed") >= 4; }));
  EXPECT_EQ(count("t", "initial_failed"), 1) << "counted when the state turned, once";
  EXPECT_EQ(Query("SELECT initialsyncstate FROM synapselinkprofileentitystate WHERE entityname = "
                  "'t'"),
            "8");
  faults_.fail_initial = false;
  ASSERT_TRUE(RunUntil([&] {
    return Query(
               "SELECT syncstate || '/' || initialsyncstate FROM synapselinkprofileentitystate "
               "WHERE entityname = 't'") == "2/4";
  }));
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_error WHERE entity = 't'"), "0");
  EXPECT_EQ(count("t", "initial_failed"), 1);
  engine.Stop();
}

// Sync backoff on the manual clock: a table that cannot be synced is retried
// after 1 s, 2 s, 4 s, ... up to max_backoff, and not a moment earlier.
TEST_F(EngineBreakTest, FailedRoundsBackOffOnTheManualClock) {
  options_.profiles[0].tables = {{"nosuch"}};
  options_.max_backoff = Millis(8000);
  options_.supervise_every = Millis(3600 * 1000);  // only the pool waits on the clock
  const TimePoint t0 = clock_.Now();
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  auto failures = [&] {
    return Value("linkwatch_sync_table_errors_total",
                 {{"profile", "crm"}, {"entity", "nosuch"}, {"reason", "unsyncable"}});
  };
  // A pool thread parked for the retry means the failed round is recorded.
  ASSERT_TRUE(clock_.AwaitDeadline(t0 + std::chrono::seconds(1)));
  EXPECT_EQ(failures(), 1);
  EXPECT_EQ(Query("SELECT reason FROM linkwatch_sync_error WHERE entity = 'nosuch'"), "unsyncable");
  clock_.Advance(std::chrono::milliseconds(999));
  ASSERT_TRUE(clock_.AwaitDeadline(t0 + std::chrono::seconds(1)));
  EXPECT_EQ(failures(), 1);  // not yet due
  TimePoint due = t0 + std::chrono::seconds(1);
  for (int wait : {2, 4, 8, 8}) {  // seconds, capped at max_backoff
    clock_.Set(due);
    due += std::chrono::seconds(wait);
    ASSERT_TRUE(clock_.AwaitDeadline(due)) << wait;
  }
  EXPECT_EQ(failures(), 5);
  engine.Stop();
}

// Rounds follow sync_interval on the manual clock; an idle table (nothing
// new in the source) keeps its heartbeat (lastsynceddatatime) moving, and a
// change is synced at the next interval.
TEST_F(EngineBreakTest, RoundsAndIdleHeartbeatsFollowTheManualClock) {
  options_.supervise_every = Millis(3600 * 1000);
  const TimePoint t0 = clock_.Now();
  const Millis interval = options_.profiles[0].sync_interval;
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  // Initial sync and the first round done: the table waits for its next one.
  ASSERT_TRUE(clock_.AwaitDeadline(t0 + interval));
  EXPECT_EQ(SyncState(), "2/4");
  auto last_synced = [&] {
    return Query("SELECT lastsynceddatatime FROM synapselinkprofileentitystate");
  };
  Source("INSERT INTO t VALUES (3, 'zzz-new', '2025-01-01T00:00:00Z')");
  EXPECT_EQ(Lake().find("zzz-new"), std::string::npos);
  TimePoint now = t0;
  auto next_round = [&] {
    now += interval;
    clock_.Set(now);
    return clock_.AwaitDeadline(now + interval);
  };
  ASSERT_TRUE(next_round());
  EXPECT_NE(Lake().find("zzz-new"), std::string::npos) << Lake();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(next_round());  // idle now
  EXPECT_EQ(last_synced(), FormatDateTime(ToEpochSeconds(now)));
  ASSERT_TRUE(next_round());
  EXPECT_EQ(last_synced(), FormatDateTime(ToEpochSeconds(now)));
  engine.Stop();
}

// Issue 9 point 5: an idle table (its source unchanged since a round that
// found nothing) does no rounds, only its heartbeat and, every 15 s, its
// destination's check; a change of the source brings the rounds back.
TEST_F(EngineBreakTest, AnIdleTableDoesNoRoundsUntilItsSourceChanges) {
  options_.supervise_every = Millis(3600 * 1000);
  const Millis interval = options_.profiles[0].sync_interval;
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  // The initial sync, then a round that finds nothing: idle from then on.
  ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(NextTick());
  const int rounds = faults_.round_begins;
  const int checks = faults_.checks;
  const int ticks = static_cast<int>(std::chrono::seconds(16) / interval);
  for (int i = 0; i < ticks; ++i) ASSERT_TRUE(NextTick());
  const TimePoint ticked = clock_.Now();
  // The heartbeat goes on, once per interval. A tick can find the table
  // not parked (its 15-s check still running): it gets the next one, so
  // the heartbeat is waited for on the manual clock, at most two intervals.
  auto synced_at = [&] {
    auto t = ParseDateTime(Query("SELECT lastsynceddatatime FROM synapselinkprofileentitystate"));
    return t.ok() ? *t : 0.0;
  };
  ASSERT_TRUE(RunUntil([&] {
    return synced_at() >= ToEpochSeconds(clock_.Now() - interval) - 1e-6;
  })) << synced_at();
  EXPECT_LE(clock_.Now() - ticked, 2 * interval) << "the heartbeat goes on";
  const TimePoint now = clock_.Now();
  EXPECT_EQ(faults_.round_begins, rounds) << "no round while the source is unchanged";
  EXPECT_GE(faults_.checks, checks + 1) << "the destination checked within 15 s";
  EXPECT_LE(faults_.checks, checks + 2);

  // The profile's idle tick sees the change at the next interval and wakes
  // the table, whose round syncs it.
  Source("INSERT INTO t VALUES (3, 'zzz-new', '2025-01-01T00:00:00Z')");
  ASSERT_TRUE(RunUntil([&] { return Lake().find("zzz-new") != std::string::npos; })) << Lake();
  EXPECT_GT(faults_.round_begins, rounds);
  EXPECT_LE(clock_.Now() - now, 2 * interval);
  engine.Stop();
}

// A table paused while it is parked with the idle tables (the demo's stall)
// gets no heartbeat from the profile's idle tick: its lastsynceddatatime ages
// as when a sync hangs, and moves again once the pause ends.
TEST_F(EngineBreakTest, APausedIdleTableGetsNoHeartbeat) {
  options_.supervise_every = Millis(3600 * 1000);
  const Millis interval = options_.profiles[0].sync_interval;
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
  auto last_synced = [&] {
    return Query("SELECT lastsynceddatatime FROM synapselinkprofileentitystate");
  };
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(NextTick());  // parked by now
  const int rounds = faults_.round_begins;
  const TimePoint paused_at = clock_.Now();
  engine.Pause("crm", "t", ToEpochSeconds(paused_at + 10 * interval));
  // Once the next tick ran, any heartbeat written before the pause is in.
  ASSERT_TRUE(NextTick());
  const std::string before = last_synced();
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(NextTick());
  EXPECT_EQ(last_synced(), before) << "no heartbeat while paused";
  EXPECT_LE(before, FormatDateTime(ToEpochSeconds(paused_at)));
  // After the pause, one round (as a hung sync resuming), then heartbeats.
  ASSERT_TRUE(RunUntil([&] {
    return last_synced() > FormatDateTime(ToEpochSeconds(paused_at + 10 * interval));
  })) << last_synced();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(NextTick());
  EXPECT_LE(faults_.round_begins, rounds + 1) << "the source did not change: idle again";
  engine.Stop();
}

// Issue 8 point 10: `tables remove` between the writer's Commit and the
// state commit of a batch; the cursor must not come back as an orphan row.
TEST_F(EngineBreakTest, ABatchInFlightWhenTheTableIsRemovedWritesNoState) {
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(RunUntil([&] { return SyncState() == "2/4"; })) << SyncState();
  std::atomic<bool> removed{false};
  {
    std::lock_guard<std::mutex> lock(faults_.mu);
    faults_.after_commit = [&] {
      auto db = state::Db::Open(options_.state_db);
      ASSERT_TRUE(db.ok());
      auto profile = ReadProfile(**db, "crm");
      ASSERT_TRUE(profile.ok() && profile->has_value());
      ASSERT_EQ((*profile)->tables.size(), 1u);
      ASSERT_TRUE(RemoveTable(**db, (*profile)->tables[0], 0).ok());
      removed = true;
    };
  }
  // A change, so that the next round has a batch to commit (an idle table
  // does no rounds).
  Source("INSERT INTO t VALUES (3, 'new', '2025-01-01T00:00:00Z')");
  ASSERT_TRUE(RunUntil([&] { return removed.load(); }));
  engine.Stop();  // lets the batch in flight finish
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_cursor"), "0") << "no orphan cursor row";
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_error"), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_break"), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM synapselinkprofileentitystate"), "0");
}

TEST_F(EngineBreakTest, RemoveTableForgetsTheErrorAndTheLastBreak) {
  auto store = state::StateStore::Open(options_.state_db);
  ASSERT_TRUE(store.ok());
  state::Db& db = (*store)->db();
  auto profile = LinkProfile(db, options_.profiles[0], 100);
  ASSERT_TRUE(profile.ok());
  const LinkedTable& t = profile->tables[0];
  ASSERT_TRUE(MarkRound(db, t, RoundResult{{"7", "m"}, 2, 2, true}, 101).ok());
  ASSERT_TRUE(MarkBreak(db, t, "source_restored", "the clock went back", 102).ok());
  EXPECT_EQ(Query("SELECT reason FROM linkwatch_sync_error"), "source_restored");
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_cursor"), "0");
  ASSERT_TRUE(MarkRound(db, t, RoundResult{{"9", "n"}, 2, 2, true}, 103).ok());
  EXPECT_EQ(Query("SELECT at || ' ' || repaired_at FROM linkwatch_sync_break"), "102.0 103.0");
  ASSERT_TRUE(RecordError(db, t, "disk full", 104, "round_failed").ok());
  ASSERT_TRUE(RemoveTable(db, t, 105).ok());
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_break"), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_error"), "0");
  // Nothing is written for a removed table afterwards.
  const Status s = MarkRound(db, t, RoundResult{{"10", "o"}, 2, 2, false}, 106);
  EXPECT_EQ(s.reason(), kTableRemoved);
  ASSERT_TRUE(RecordError(db, t, "late", 107).ok());
  ASSERT_TRUE(MarkBreak(db, t, "partition_missing", "late", 108).ok());
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_cursor"), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_error"), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_break"), "0");
}

}  // namespace
}  // namespace linkwatch::sync
