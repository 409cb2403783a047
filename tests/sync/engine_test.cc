// SyncEngine driven through its seams alone: a fake source and a fake
// destination, registered in this test's own registries under types the
// binary does not know ("fake", "memory"). The engine is used only through
// its public interface (Start/Stop) and watched through the state store, so
// the test holds however the worker is scheduled. The clock is a manual
// clock: the test looks whenever all of the engine's threads are parked on
// it, then moves it to their next deadline (sync_interval, backoff), so
// nothing waits in real time.
#include "agent/sync/engine.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/clock.h"
#include "agent/state/db.h"
#include "agent/sync/destination_registry.h"
#include "agent/sync/source_registry.h"
#include "agent/sync/sync_metrics.h"
#include "tests/sync/engine_test_util.h"

namespace linkwatch::sync {
namespace {

namespace fs = std::filesystem;

// What the fakes share with the test.
struct World {
  std::mutex mu;
  // The source: rows by key, and a change log of (sequence, key).
  std::map<int64_t, std::string> rows;
  std::vector<std::pair<int64_t, int64_t>> log;
  int64_t seq = 0;
  // The destination: the committed table, and what the test injects.
  std::map<int64_t, std::string> lake;
  int commits = 0, initial_batches = 0;
  int fail_commits = 0;     // the next n commits fail (an ordinary failure)
  bool break_next = false;  // the next change batch finds the lake broken
  std::vector<std::string> markers_opened;
  // Source connections open now, and the most open at once.
  int sources_open = 0, most_sources_open = 0;
  // Change reads wait (as on a network) until a source is cancelled.
  bool hang_reads = false, read_hanging = false, cancelled = false;
  bool fail_counts = false;  // RowCount fails (a throttled count request)
  // RowCount answers this snapshot (CountIsSnapshot) instead of the rows.
  std::optional<int64_t> count_snapshot;
  std::condition_variable cv;

  void Change(int64_t key, std::optional<std::string> name) {
    std::lock_guard<std::mutex> lock(mu);
    if (name) {
      rows[key] = *name;
    } else {
      rows.erase(key);
    }
    log.emplace_back(++seq, key);
  }
};

// The cursor is opaque to the engine: here a token that is not a number.
std::string Token(int64_t seq) { return "delta-token:" + std::to_string(seq); }
int64_t SeqOf(const Cursor& c) { return std::stoll(c.substr(c.find(':') + 1)); }

class FakeSource : public Source {
 public:
  explicit FakeSource(World& w) : w_(w) {
    std::lock_guard<std::mutex> lock(w_.mu);
    w_.most_sources_open = std::max(w_.most_sources_open, ++w_.sources_open);
  }
  ~FakeSource() override {
    std::lock_guard<std::mutex> lock(w_.mu);
    --w_.sources_open;
  }
  Result<TableSchema> Describe(const std::string& table) override {
    TableSchema s;
    s.name = table;
    s.columns = {{"id", ValueType::kInt64, "INTEGER"},
                 {"name", ValueType::kString, "TEXT"},
                 {"createdon", ValueType::kDateTime, "TEXT"}};
    s.key = 0;
    s.createdon = 2;
    return s;
  }
  bool CountIsSnapshot() const override {
    std::lock_guard<std::mutex> lock(w_.mu);
    return w_.count_snapshot.has_value();
  }
  Result<int64_t> RowCount(const TableSchema&) override {
    std::lock_guard<std::mutex> lock(w_.mu);
    if (w_.fail_counts) return Status::Error("RetrieveTotalRecordCount: HTTP 503");
    if (w_.count_snapshot) return *w_.count_snapshot;
    return static_cast<int64_t>(w_.rows.size());
  }
  Result<Cursor> ReadAll(const TableSchema&, const RowCallback& row) override {
    std::lock_guard<std::mutex> lock(w_.mu);
    for (const auto& [key, name] : w_.rows) {
      if (auto s = Emit(key, &name, row, true); !s.ok()) return s;
    }
    return Token(w_.seq);
  }
  Result<Cursor> ReadChanges(const TableSchema&, const Cursor& after, size_t limit,
                             const RowCallback& row) override {
    std::unique_lock<std::mutex> lock(w_.mu);
    if (w_.hang_reads) {
      w_.read_hanging = true;
      w_.cv.notify_all();
      w_.cv.wait(lock, [&] { return w_.cancelled; });
      return Status::Error("GET accounts: stopped");
    }
    int64_t last = SeqOf(after);
    size_t n = 0;
    for (const auto& [seq, key] : w_.log) {
      if (seq <= last || n == limit) continue;
      auto it = w_.rows.find(key);
      if (auto s = Emit(key, it == w_.rows.end() ? nullptr : &it->second, row, false, seq);
          !s.ok()) {
        return s;
      }
      last = seq;
      ++n;
    }
    return Token(last);
  }
  Result<bool> ChangesWaiting(const TableSchema&, const Cursor& after) override {
    std::lock_guard<std::mutex> lock(w_.mu);
    return w_.seq > SeqOf(after);
  }
  Result<bool> MayHaveKeyTwins(const TableSchema&) override { return false; }
  Result<int64_t> CountKeys(const TableSchema&, std::span<const StoredValue>) override {
    return int64_t{0};
  }
  Result<Cursor> Head() override {
    std::lock_guard<std::mutex> lock(w_.mu);
    return Token(w_.seq);
  }
  Result<int64_t> SchemaVersion() override { return int64_t{1}; }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(w_.mu);
    w_.cancelled = true;
    w_.cv.notify_all();
  }
  Status LogChangeOfEveryRow(const TableSchema&) override { return Status::Ok(); }
  Status CheckFile() override { return Status::Ok(); }
  Status CheckChain(const std::string&, const std::string&, const Cursor& committed) override {
    return committed.rfind("delta-token:", 0) == 0
               ? Status::Ok()
               : Status::Break("source_replaced", "not a cursor of the fake source");
  }
  Status Checkpoint(const TableSchema&, const std::string&, const Cursor&) override {
    return Status::Ok();
  }

 private:
  Status Emit(int64_t key, const std::string* name, const RowCallback& row, bool initial,
              int64_t seq = 0) {
    values_ = {Value{Value::Kind::kInt, key, 0, {}}, Value{}, Value{}};
    if (name) {
      values_[1] = Value{Value::Kind::kText, 0, 0, *name};
      values_[2] = Value{Value::Kind::kText, 0, 0, "2025-01-01T00:00:00Z"};
    }
    RowView v;
    v.version = seq;
    v.deleted = name == nullptr;
    v.created = initial;
    v.key = values_[0];
    if (name) v.values = values_;
    return row(v);
  }
  World& w_;
  std::vector<Value> values_;
};

class FakeWriter : public TableWriter {
 public:
  explicit FakeWriter(World& w) : w_(w) {}
  Status Begin(bool initial, double) override {
    std::lock_guard<std::mutex> lock(w_.mu);
    if (!initial && w_.break_next) {
      w_.break_next = false;
      return Status::Break("partition_missing", "test: the destination lost a partition");
    }
    initial_ = initial;
    batch_ = initial ? std::map<int64_t, std::string>{} : w_.lake;
    return Status::Ok();
  }
  void ReportSyncedIds(bool) override {}
  Status Put(const RowView& row) override {
    if (row.deleted) {
      batch_.erase(row.key.i);
    } else {
      batch_[row.key.i] = std::string(row.values[1].text);
    }
    return Status::Ok();
  }
  Result<BatchResult> Commit() override {
    BatchResult r;
    {
      std::lock_guard<std::mutex> lock(w_.mu);
      if (w_.fail_commits > 0) {
        --w_.fail_commits;
        return Status::Error("test: the destination is unreachable");
      }
      w_.lake = batch_;
      ++w_.commits;
      if (initial_) ++w_.initial_batches;
      r.marker = "batch-" + std::to_string(w_.commits);
    }
    r.records = static_cast<int64_t>(batch_.size());
    return r;
  }
  void Abort() override {}
  Result<SnapshotResult> Snapshot(double, int) override { return SnapshotResult{}; }

 private:
  World& w_;
  bool initial_ = false;
  std::map<int64_t, std::string> batch_;
};

class FakeDestination : public Destination {
 public:
  explicit FakeDestination(World& w) : w_(w) {}
  Result<std::unique_ptr<TableWriter>> OpenTable(const TableSchema&, const TableOptions&,
                                                 const std::string& marker) override {
    {
      std::lock_guard<std::mutex> lock(w_.mu);
      w_.markers_opened.push_back(marker);
    }
    return std::unique_ptr<TableWriter>(std::make_unique<FakeWriter>(w_));
  }

 private:
  World& w_;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("lw_engine");
    for (int64_t k = 1; k <= 3; ++k) world_.Change(k, "row " + std::to_string(k));
    // Registered here only: the binary knows neither type.
    sources_.Register("fake", [this](const YAML::Node&, const BlockContext&) {
      return SourceOpener([this]() -> Result<std::unique_ptr<Source>> {
        return std::unique_ptr<Source>(std::make_unique<FakeSource>(world_));
      });
    });
    destinations_.Register("memory", [this](const YAML::Node&, const BlockContext&) {
      return DestinationOpener([this]() -> Result<std::shared_ptr<Destination>> {
        return std::shared_ptr<Destination>(std::make_shared<FakeDestination>(world_));
      });
    });
    options_.state_db = (dir_ / "state.db").string();
    options_.supervise_every = Millis(50);
    options_.max_backoff = Millis(200);
    options_.sources = &sources_;
    options_.destinations = &destinations_;
    ProfileConfig profile;
    profile.name = "crm";
    profile.source_type = "fake";
    profile.destination_type = "memory";
    profile.destination_path = (dir_ / "memory").string();
    profile.sync_interval = Millis(100);
    profile.tables = {{"t"}};
    options_.profiles = {profile};
    clock_.Set(FromEpochSeconds(1767225600));  // 2026-01-01T00:00:00Z
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the engine on the manual clock until `predicate` (over the state
  // store or the fakes) holds: looks whenever every engine thread is parked
  // on the clock, then moves the clock to the next deadline.
  template <typename F>
  bool Eventually(F predicate) {
    return testing::RunUntil(clock_, options_, predicate);
  }
  // One value from the state store (a fresh read-only connection); "" for
  // null or no row.
  std::string Query(const std::string& sql) { return testing::QueryOne(options_.state_db, sql); }
  std::string Cursor() { return Query("SELECT cursor FROM linkwatch_sync_cursor"); }
  std::string SyncState() {
    return Query("SELECT syncstate || '/' || initialsyncstate FROM synapselinkprofileentitystate");
  }
  std::map<int64_t, std::string> Lake() {
    std::lock_guard<std::mutex> lock(world_.mu);
    return world_.lake;
  }
  std::map<int64_t, std::string> Rows() {
    std::lock_guard<std::mutex> lock(world_.mu);
    return world_.rows;
  }
  int InitialBatches() {
    std::lock_guard<std::mutex> lock(world_.mu);
    return world_.initial_batches;
  }

  fs::path dir_;
  World world_;
  prometheus::Registry registry_;
  SyncMetrics metrics_{registry_};
  SourceRegistry sources_;
  DestinationRegistry destinations_;
  EngineOptions options_;
  ManualClock clock_;
};

TEST_F(EngineTest, InitialSyncThenIncrementalChangesWithAnOpaqueCursor) {
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(Eventually([&] { return SyncState() == "2/4"; })) << SyncState();
  EXPECT_EQ(Lake(), Rows());
  EXPECT_EQ(Cursor(), "delta-token:3") << "stored as the source returned it";
  EXPECT_EQ(Query("SELECT typeof(cursor) FROM linkwatch_sync_cursor"), "text");
  EXPECT_EQ(Query("SELECT lastsynceddataversion FROM synapselinkprofileentitystate"),
            "delta-token:3");
  EXPECT_EQ(Query("SELECT crmrecordcount || '/' || lakerecordcount FROM "
                  "synapselinkprofileentitystate"),
            "3/3");

  world_.Change(2, "row 2 edited");
  world_.Change(4, "row 4");
  world_.Change(1, std::nullopt);
  ASSERT_TRUE(Eventually([&] { return Cursor() == "delta-token:6"; })) << Cursor();
  EXPECT_EQ(Lake(), Rows());
  EXPECT_EQ(InitialBatches(), 1) << "changes go through incremental batches";
  engine.Stop();
  std::string last_marker;
  {
    std::lock_guard<std::mutex> lock(world_.mu);
    last_marker = "batch-" + std::to_string(world_.commits);
  }

  // A restart continues from the stored cursor and marker.
  world_.Change(5, "row 5");
  SyncEngine again(options_, clock_, metrics_);
  ASSERT_TRUE(again.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Cursor() == "delta-token:7"; })) << Cursor();
  again.Stop();
  EXPECT_EQ(Lake(), Rows());
  EXPECT_EQ(InitialBatches(), 1);
  std::lock_guard<std::mutex> lock(world_.mu);
  EXPECT_EQ(world_.markers_opened.back(), last_marker)
      << "reopened with the marker committed with the cursor";
}

// A profile's tables share its source connections: as many are open as
// steps run at once (the pool's threads), not one per table (a SQLite
// connection holds the whole parsed schema of its file).
TEST_F(EngineTest, TablesShareTheProfilesSourceConnections) {
  constexpr int kTables = 40;
  options_.profiles[0].tables.clear();
  for (int i = 0; i < kTables; ++i)
    options_.profiles[0].tables.push_back({"t" + std::to_string(i)});
  {
    SyncEngine engine(options_, clock_, metrics_);
    ASSERT_TRUE(engine.Start().ok());
    auto completed = [&] {
      return Query(
                 "SELECT count(*) FROM synapselinkprofileentitystate WHERE syncstate = 2 AND "
                 "initialsyncstate = 4") == std::to_string(kTables);
    };
    ASSERT_TRUE(Eventually(completed));
    world_.Change(2, "row 2 edited");
    ASSERT_TRUE(Eventually([&] {
      return Query("SELECT count(*) FROM linkwatch_sync_cursor WHERE cursor = 'delta-token:4'") ==
             std::to_string(kTables);
    }));
  }
  std::lock_guard<std::mutex> lock(world_.mu);
  EXPECT_LE(world_.most_sources_open, static_cast<int>(SyncEngine::PoolSize(options_)) + 1)
      << "one per pool thread at most (and the profile's probe)";
  EXPECT_EQ(world_.sources_open, 0) << "all closed with the engine";
}

TEST_F(EngineTest, AFailedBatchIsRecordedAndRetried) {
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(Eventually([&] { return SyncState() == "2/4"; })) << SyncState();
  {
    std::lock_guard<std::mutex> lock(world_.mu);
    world_.fail_commits = 2;
  }
  world_.Change(3, "row 3 edited");
  ASSERT_TRUE(Eventually([&] { return !Query("SELECT error FROM linkwatch_sync_error").empty(); }));
  EXPECT_EQ(Query("SELECT error FROM linkwatch_sync_error"),
            "test: the destination is unreachable");
  EXPECT_EQ(Cursor(), "delta-token:3") << "the cursor does not move past a failed batch";
  // Retried with backoff until the destination takes it: the error clears.
  ASSERT_TRUE(Eventually([&] { return Cursor() == "delta-token:4"; })) << Cursor();
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_error"), "0");
  EXPECT_EQ(Lake(), Rows());
  EXPECT_EQ(InitialBatches(), 1) << "a failure is no break: no resync";
}

// Counting is not reading: rows read while the count fails are committed
// (never read again), and only the count keeps its last value and time.
TEST_F(EngineTest, AFailingCountDoesNotFailTheRoundsThatReadRows) {
  world_.fail_counts = true;
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(Eventually([&] { return SyncState() == "2/4"; })) << SyncState();
  EXPECT_EQ(Lake(), Rows());
  EXPECT_EQ(Query("SELECT coalesce(crmrecordcount, 'null') || '/' || lakerecordcount FROM "
                  "synapselinkprofileentitystate"),
            "null/3");
  world_.Change(4, "row 4");
  ASSERT_TRUE(Eventually([&] { return Cursor() == "delta-token:4"; })) << Cursor();
  EXPECT_EQ(Lake(), Rows());
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_error"), "0");
  EXPECT_EQ(InitialBatches(), 1);
  {
    std::lock_guard<std::mutex> lock(world_.mu);
    world_.fail_counts = false;
  }
  world_.Change(5, "row 5");
  ASSERT_TRUE(Eventually([&] {
    return Query(
               "SELECT crmrecordcount || '/' || lakerecordcount FROM "
               "synapselinkprofileentitystate") == "5/5";
  }));
  engine.Stop();
}

// A snapshot count (Dataverse's, up to a day old) is no drift until it is
// seen to change; then its difference from the lake is, carried forward.
TEST_F(EngineTest, ASnapshotCountIsTrustedWhenItMoves) {
  world_.count_snapshot = 1;  // yesterday's: 2 rows were created since
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(Eventually([&] { return SyncState() == "2/4"; })) << SyncState();
  auto counts = [&] {
    return Query(
        "SELECT crmrecordcount || '/' || lakerecordcount FROM synapselinkprofileentitystate");
  };
  EXPECT_EQ(counts(), "3/3") << "the rows the initial sync read";
  world_.Change(4, "row 4");
  ASSERT_TRUE(Eventually([&] { return Cursor() == "delta-token:4"; })) << Cursor();
  EXPECT_EQ(counts(), "4/4") << "the stale snapshot is not trusted";
  {
    // Today's snapshot: 2 rows more than the lake has (it lost them).
    std::lock_guard<std::mutex> lock(world_.mu);
    world_.count_snapshot = 6;
  }
  world_.Change(5, "row 5");
  ASSERT_TRUE(Eventually([&] { return counts() == "6/5"; })) << counts();
  world_.Change(6, "row 6");
  ASSERT_TRUE(Eventually([&] { return counts() == "7/6"; })) << counts();
  // No snapshot to be had (throttled): the drift is carried all the same.
  {
    std::lock_guard<std::mutex> lock(world_.mu);
    world_.fail_counts = true;
  }
  world_.Change(7, "row 7");
  ASSERT_TRUE(Eventually([&] { return Cursor() == "delta-token:7"; })) << Cursor();
  EXPECT_EQ(counts(), "8/7");
  engine.Stop();
  // After a start, the drift the state row holds is carried, not the
  // snapshot first seen (it may be a day old).
  {
    std::lock_guard<std::mutex> lock(world_.mu);
    world_.fail_counts = false;
    world_.count_snapshot = 1;
  }
  SyncEngine again(options_, clock_, metrics_);
  ASSERT_TRUE(again.Start().ok());
  world_.Change(8, "row 8");
  ASSERT_TRUE(Eventually([&] { return Cursor() == "delta-token:8"; })) << Cursor();
  EXPECT_EQ(counts(), "9/8");
  again.Stop();
}

TEST_F(EngineTest, ABreakIsRepairedByAResync) {
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(Eventually([&] { return SyncState() == "2/4"; })) << SyncState();
  {
    std::lock_guard<std::mutex> lock(world_.mu);
    world_.break_next = true;
  }
  world_.Change(2, "changed while broken");
  ASSERT_TRUE(Eventually([&] { return InitialBatches() == 2 && SyncState() == "2/4"; }))
      << SyncState();
  EXPECT_EQ(Query("SELECT reason FROM linkwatch_sync_break WHERE repaired_at >= at"),
            "partition_missing");
  ASSERT_TRUE(Eventually([&] { return Cursor() == "delta-token:4"; })) << Cursor();
  EXPECT_EQ(Lake(), Rows());
}

// A webhook's poke (SyncNow) runs the table's round at once: with an hour
// between rounds and the clock standing still, the change arrives all the
// same.
TEST_F(EngineTest, SyncNowRunsATablesRoundWithoutWaitingForItsInterval) {
  options_.profiles[0].sync_interval = std::chrono::hours(1);
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(Eventually([&] { return SyncState() == "2/4"; })) << SyncState();
  ASSERT_EQ(Cursor(), "delta-token:3");
  EXPECT_FALSE(engine.SyncNow("crm", "other"));
  EXPECT_FALSE(engine.SyncNow("erp", "t"));
  const TimePoint at = clock_.Now();
  world_.Change(7, "pushed");
  ASSERT_TRUE(engine.SyncNow("crm", "t"));
  // Real time, the manual clock untouched: only the poke can run the round.
  const auto guard = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (Cursor() != "delta-token:4" && std::chrono::steady_clock::now() < guard) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(Cursor(), "delta-token:4");
  EXPECT_EQ(clock_.Now(), at);
  EXPECT_EQ(Lake(), Rows());
  engine.Stop();
  EXPECT_FALSE(engine.SyncNow("crm", "t")) << "a stopped engine takes no pokes";
}

// Stop cancels a round waiting on its source (a Dataverse page, a 429's
// Retry-After) instead of waiting for it, and records no failure.
TEST_F(EngineTest, StopCancelsARoundWaitingOnItsSource) {
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(Eventually([&] { return SyncState() == "2/4"; })) << SyncState();
  {
    std::lock_guard<std::mutex> lock(world_.mu);
    world_.hang_reads = true;
  }
  world_.Change(9, "never read");
  {
    // Move the clock to the next round and wait (real time) for it to hang.
    std::unique_lock<std::mutex> lock(world_.mu);
    const auto guard = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (!world_.read_hanging && std::chrono::steady_clock::now() < guard) {
      lock.unlock();
      clock_.Set(clock_.Now() + Millis(100));
      lock.lock();
      world_.cv.wait_for(lock, std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(world_.read_hanging);
  }
  engine.Stop();  // returns: the read was cancelled
  EXPECT_TRUE(world_.cancelled);
  EXPECT_EQ(Query("SELECT count(*) FROM linkwatch_sync_error"), "0");
  EXPECT_EQ(Cursor(), "delta-token:3");
}

TEST_F(EngineTest, AnUnregisteredTypeIsRecordedAsUnsyncable) {
  options_.profiles[0].source_type = "sqlite";  // registered in the builtin registry only
  SyncEngine engine(options_, clock_, metrics_);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(Eventually([&] { return !Query("SELECT error FROM linkwatch_sync_error").empty(); }));
  EXPECT_EQ(Query("SELECT error FROM linkwatch_sync_error"),
            "source type \"sqlite\" is not one of: fake");
  EXPECT_TRUE(Lake().empty());
}

}  // namespace
}  // namespace linkwatch::sync
