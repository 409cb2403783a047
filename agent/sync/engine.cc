#include "agent/sync/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "agent/core/thread_name.h"
#include "agent/state/db.h"
#include "agent/state/schema.h"
#include "agent/state/state_store.h"
#include "agent/sync/destination_registry.h"
#include "agent/sync/destinations/lake_format.h"
#include "agent/sync/lender.h"
#include "agent/sync/snapshot_count.h"
#include "agent/sync/source_registry.h"
#include "agent/sync/state_rows.h"
#include "agent/sync/sync_metrics.h"

namespace linkwatch::sync {
namespace {

// Runs `write` in one transaction, so that a reader (the watcher) sees all
// of it or none: a break's syncstate together with its reason.
template <typename F>
Status InTransaction(state::Db& db, F write) {
  state::Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  if (auto s = write(); !s.ok()) return s;
  return tx.Commit();
}

}  // namespace

// An idle table (its last round found nothing and its source has not
// changed since) does no rounds; the destination's own checks (a partition
// or model.json changed by hand: TableWriter::Check) still run this often.
constexpr Duration kIdleCheck = std::chrono::seconds(15);

// What a step asks for: to run again at `at`; or, for a table that found
// nothing new (idle), to be parked with its profile's idle tables until `at`,
// when its destination's check or a snapshot is due, unless its source
// changes before. A failed step backs off until `at` (SyncNow leaves it).
struct SyncEngine::Next {
  Next(TimePoint at, bool idle = false) : at(at), idle(idle) {}  // NOLINT: implicit
  static Next Failed(TimePoint at) {
    Next n(at);
    n.failed = true;
    return n;
  }
  TimePoint at;
  bool idle;
  bool failed = false;
};

// What the pool runs: a table's round (Worker) or a profile's idle tick.
struct SyncEngine::Task {
  virtual ~Task() = default;
  // One step; nullopt: nothing more to do (a removed table).
  virtual std::optional<Next> Step() = 0;
  // Scheduling, guarded by the engine's mu_.
  bool running = false;      // a pool thread is in Step()
  bool retired = false;      // the supervisor let go of it: never queued again
  bool poked = false;        // SyncNow during Step(): run again right after it
  bool backing_off = false;  // its last step failed: SyncNow leaves it to its backoff
  std::optional<std::multimap<TimePoint, Task*>::iterator> queued;
};

// A profile's idle tick (SyncEngine::TickIdle), queued once per profile.
class SyncEngine::IdleTick : public Task {
 public:
  IdleTick(SyncEngine& engine, ProfileRuntime& profile) : engine_(engine), profile_(profile) {}
  std::optional<Next> Step() override { return engine_.TickIdle(profile_); }

 private:
  SyncEngine& engine_;
  ProfileRuntime& profile_;
};

// A profile's destination, opened once and shared by its table workers; a
// failure to open it (unwritable folder, corrupt model.json) is retried.
// Also its idle tables, parked until their source changes.
struct SyncEngine::ProfileRuntime {
  ProfileConfig config;
  const EngineOptions* options = nullptr;
  std::mutex mu;
  std::shared_ptr<sync::Destination> destination;
  std::map<std::string, std::unique_ptr<Worker>> workers;  // by profileentity id

  // The parked (idle) tables, each with when its own duties are due (the
  // destination's check, a snapshot); guarded by the engine's mu_.
  std::map<Worker*, TimePoint> parked;
  // Queued once the first table is parked, then every sync_interval for
  // good (one task per profile: its step never runs twice at once).
  std::unique_ptr<IdleTick> idle_tick;
  bool idle_tick_started = false;  // guarded by the engine's mu_

  // The idle tables' rounds, in one transaction (state-tables.md: every
  // round, also one that found nothing, moves lastsynceddatatime).
  Status WriteHeartbeats(const std::vector<std::string>& ids, double now) {
    auto db = state_dbs.Borrow();
    if (!db) return db.status();
    const Status s = InTransaction(**db, [&] { return MarkIdleRounds(**db, ids, now); });
    state_dbs.Return(std::move(db).value());
    return s;
  }

  // The profile's connections to its source and to the state store, lent
  // to one table step at a time (Lender).
  Lender<Source> sources{[this]() -> Result<std::unique_ptr<Source>> {
    auto opener = options->sources->Opener(config);
    if (!opener) return opener.status();
    return (*opener)();
  }};
  Lender<state::Db> state_dbs{
      [this] { return state::Db::Open(options->state_db, state::Db::Mode::kReadWrite); }};

  // When the idle tick is next due: the next multiple of sync_interval.
  TimePoint NextIdleTick(TimePoint now) const {
    const auto step = std::chrono::duration_cast<Duration>(config.sync_interval);
    if (step <= Duration::zero()) return now;
    return TimePoint((now.time_since_epoch() / step + 1) * step);
  }

  // What a source's data_version was, on the profile's own connection to it
  // (a connection's numbers are only comparable with its own: `connection`
  // tells them apart).
  struct SourceVersion {
    uint64_t connection = 0;
    int64_t version = 0;
    bool operator==(const SourceVersion&) const = default;
  };
  // The source's data_version now, for all tables of the profile: one
  // query (and one check of the file) per half sync_interval, not one per
  // table, unless `fresh` (the idle tick, once per interval: a cached answer
  // would let a change wait a whole interval more). A cached answer is older
  // than `now`: a change after it is seen at the next probe. Nullopt when the
  // source cannot tell (a source type without one, a file replaced or lost):
  // the tables do full rounds, which find out what happened.
  std::optional<SourceVersion> SourceVersionAt(TimePoint now, bool fresh = false) {
    std::lock_guard<std::mutex> lock(probe_mu);
    if (!fresh && probed && now >= probed_at && now - probed_at < config.sync_interval / 2) {
      return probed_version;
    }
    probed = true;
    probed_at = now;
    probed_version.reset();
    if (!probe) {
      auto opener = options->sources->Opener(config);
      if (!opener) return std::nullopt;
      auto opened = (*opener)();
      if (!opened) return std::nullopt;
      probe = std::move(opened).value();
      ++probe_connection;
    }
    if (!probe->CheckFile().ok()) {
      probe.reset();  // reopened next time: the file may be back or new
      return std::nullopt;
    }
    auto version = probe->DataVersion();
    if (!version.ok()) return std::nullopt;  // a source type that cannot tell
    probed_version = SourceVersion{probe_connection, *version};
    return probed_version;
  }

  std::mutex probe_mu;
  std::unique_ptr<Source> probe;
  uint64_t probe_connection = 0;
  bool probed = false;
  TimePoint probed_at{};
  std::optional<SourceVersion> probed_version;

  Result<std::shared_ptr<sync::Destination>> OpenDestination() {
    std::lock_guard<std::mutex> lock(mu);
    if (destination) return destination;
    auto opener = options->destinations->Opener(config);
    if (!opener) return opener.status();
    auto opened = (*opener)();
    if (!opened) return opened.status();
    destination = *opened;
    return destination;
  }
};

class SyncEngine::Worker : public Task {
 public:
  Worker(SyncEngine& engine, ProfileRuntime& profile, LinkedTable table,
         const EngineOptions& options, const Clock& clock, SyncMetrics& metrics)
      : engine_(engine),
        profile_(profile),
        table_(std::move(table)),
        options_(options),
        clock_(clock),
        metrics_(metrics),
        table_metrics_(metrics.ForTable(table_.profile_name, table_.entity)) {}
  ~Worker() {
    SetErrorGauge("");  // a removed table has no current error
  }

  // One round of the table (osquery's check()): prepares what the table
  // needs, or does its initial sync, or one incremental batch, or records a
  // failure. Returns when the table is next due: now when more is waiting
  // (a full batch), the next sync_interval, or the backoff after a failure;
  // idle (parked) when nothing changed since a round that found nothing;
  // nullopt when the table was removed (nothing more to do for it). Called
  // by one pool thread at a time.
  std::optional<Next> Step() override;

  // Read by the idle tick while the table is parked (not running).
  const std::string& id() const { return table_.profileentity_id; }
  const LinkedTable& table() const { return table_; }
  const std::optional<ProfileRuntime::SourceVersion>& idle_since() const { return idle_since_; }
  ProfileRuntime& profile() const { return profile_; }

 private:
  double Now() const { return ToEpochSeconds(clock_.Now()); }

  // Opens what the table needs; an error means the table cannot be synced.
  Status Prepare();
  Status InitialSync();
  // One incremental round; returns how many changes it applied.
  Result<size_t> Round();
  Status CommitState(const RoundResult& round, const BatchResult& batch);
  // Breaks on the source's side (a replaced file, a restore, a tracking
  // gap, a new key: sqlite_source.h), checked before every read.
  Status CheckSource();
  // A column added with a DEFAULT that append-only records must carry: the
  // source logs a change of every row (the rounds that follow write them),
  // and the writer's marker, committed with the unchanged cursor, says so.
  Status LogEveryRowAgain();
  // Other source rows whose keys are written as the same Id as this row's
  // (RowView::key_twins).
  Result<int64_t> KeyTwins(const RowView& row);
  // Put, with RowView::key_twins set.
  Status PutWithTwins(const RowView& row);
  // Failed records and invalid text of a committed batch: metrics and logs.
  void Report(const BatchResult& r);
  // A snapshot when snapshot_interval has passed and the table changed.
  Status MaybeSnapshot();
  void Count(const BatchResult& r);
  // The source's row count for crmrecordcount. A snapshot count is weighed
  // against `lake_records`, the lake's rows now (SnapshotCount), and when
  // it cannot be read the known drift is carried. Otherwise -1 when
  // counting failed: the rows read are committed all the same (a count is
  // no reason to read them again), the failure is logged once and the
  // count's modified time ages.
  int64_t SourceCount(int64_t lake_records);
  // crmrecordcount is SnapshotCount's estimate (not in append-only mode,
  // where the lake counts change records).
  bool CarriesDrift() const { return source_->CountIsSnapshot() && !table_.append_only; }
  // The per-table error metrics: one failure counted under `reason`, and
  // (when `current`) the current-error gauge set to it; SetErrorGauge("")
  // clears the gauge once a round committed.
  void CountError(const std::string& reason, bool current = true);
  void SetErrorGauge(const std::string& reason);

  SyncEngine& engine_;
  ProfileRuntime& profile_;
  LinkedTable table_;
  const EngineOptions& options_;
  const Clock& clock_;
  SyncMetrics& metrics_;
  std::unique_ptr<SyncMetrics::Table> table_metrics_;
  Millis backoff_{1000};
  bool prepared_ = false;
  // The source's data_version at the start of the last round, when that
  // round found nothing: while it stays the same the table is idle.
  std::optional<ProfileRuntime::SourceVersion> idle_since_;
  TimePoint last_check_{};  // the destination's last check (a round or kIdleCheck)

  // Lent by the profile for one Step (null outside).
  std::unique_ptr<state::Db> db_;
  std::unique_ptr<Source> source_;
  std::shared_ptr<Destination> destination_;
  std::unique_ptr<TableWriter> writer_;
  TableSchema schema_;
  std::optional<Committed> committed_;
  double last_count_ = 0;
  bool count_failing_ = false;    // the last count failed (logged once)
  SnapshotCount snapshot_count_;  // when the source's count is a snapshot
  double last_snapshot_ = 0;
  int64_t schema_version_ = 0;
  bool changed_since_snapshot_ = true;
  int initial_failures_ = 0;
  std::vector<double> lags_;
  int64_t failed_count_ = 0;  // the table's failed records in the state store
  bool invalid_text_logged_ = false;
  std::vector<StoredValue> twins_;
  std::string twin_id_;
};

Status SyncEngine::Worker::Prepare() {
  auto committed = ReadCommitted(*db_, table_);
  if (!committed) return committed.status();
  committed_ = *committed;
  // Before Describe, which would only say "no change tracking" about some.
  if (auto s = CheckSource(); !s.ok()) return s;
  auto version = source_->SchemaVersion();
  if (!version) return version.status();
  schema_version_ = *version;
  auto schema = source_->Describe(table_.entity);
  if (!schema) return schema.status();
  schema_ = std::move(schema).value();
  auto destination = profile_.OpenDestination();
  if (!destination) return destination.status();
  destination_ = *destination;
  auto last_snapshot = LastSnapshot(*db_, table_);
  if (!last_snapshot) return last_snapshot.status();
  last_snapshot_ = *last_snapshot;
  if (schema_.createdon < 0 && !table_.append_only) {
    // lake-format.md: a table without createdon is always append only.
    spdlog::info("sync {}/{}: no createdon column, so the table is synced append only",
                 table_.profile_name, table_.entity);
    if (auto s = MarkAppendOnly(*db_, table_, Now()); !s.ok()) return s;
    table_.append_only = true;
    table_.month_partitions = false;
  }
  auto failed = CountFailedRecords(*db_, table_);
  if (!failed) return failed.status();
  failed_count_ = *failed;
  if (CarriesDrift() && !snapshot_count_.anchored()) {
    // A start: the drift the state row recorded (after a failed step the
    // worker's own is newer).
    auto counts = ReadRecordCounts(*db_, table_);
    if (!counts) return counts.status();
    if (*counts) snapshot_count_.Anchor((*counts)->source, (*counts)->lake + failed_count_);
  }
  TableOptions options;
  options.append_only = table_.append_only;
  options.partition = table_.month_partitions ? Partitioning::kMonth : Partitioning::kYear;
  auto writer = destination_->OpenTable(schema_, options, committed_ ? committed_->marker : "");
  if (!writer) return writer.status();
  writer_ = std::move(writer).value();
  return Status::Ok();
}

std::optional<SyncEngine::Next> SyncEngine::Worker::Step() {
  const std::string who = table_.profile_name + "/" + table_.entity;
  const TimePoint now = clock_.Now();
  // Returns when to try again (nullopt when the table was removed while a
  // batch was in flight: nothing is recorded for it then).
  auto fail = [&](const Status& s, bool unsyncable) -> std::optional<Next> {
    if (engine_.Stopping()) {
      // Cut short by Stop (Source::Cancel): not a failure of the table; the
      // next start goes on from the last commit.
      spdlog::info("sync {}: stopped in the middle of a round ({})", who, s.message());
      writer_.reset();
      prepared_ = false;
      return clock_.Now();
    }
    if (s.reason() == kTableRemoved) {
      spdlog::info("sync {}: the table was removed; its worker stops", who);
      SetErrorGauge("");
      return std::nullopt;
    }
    if (s.is_break()) {
      // Nothing is glued, skipped or trusted: the table is synced again from
      // scratch (docs/sync.md "Breaks"), and the state says so meanwhile. A
      // break found again and again (a source that keeps moving back) backs
      // off like any failure.
      spdlog::error("sync {}: the sync broke ({}): {}; resyncing the table", who, s.reason(),
                    s.message());
      CountError(s.reason());
      if (db_) {
        if (auto r = InTransaction(
                *db_, [&] { return MarkBreak(*db_, table_, s.reason(), s.message(), Now()); });
            !r.ok()) {
          spdlog::warn("sync {}: cannot record the break: {}", who, r.message());
          metrics_.CountStateStoreWriteError();
        } else {
          committed_.reset();
        }
      }
    } else {
      const std::string reason = !s.reason().empty() ? s.reason()
                                 : unsyncable        ? "unsyncable"
                                                     : "round_failed";
      spdlog::warn("sync {}: {} (retrying in {}s)", who, s.message(), backoff_.count() / 1000.0);
      CountError(reason);
      if (db_) {
        const Status r = InTransaction(*db_, [&] {
          return unsyncable ? MarkUnsyncable(*db_, table_, s.message(), Now(), reason)
                            : RecordError(*db_, table_, s.message(), Now(), reason);
        });
        if (!r.ok()) spdlog::warn("sync {}: cannot record the error: {}", who, r.message());
      }
    }
    writer_.reset();  // reopened from what is on disk
    prepared_ = false;
    idle_since_.reset();
    const TimePoint due = clock_.Now() + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    return Next::Failed(due);
  };
  // Connections of the profile, for this step only.
  struct GiveBack {
    Worker& w;
    ~GiveBack() {
      w.profile_.sources.Return(std::move(w.source_));
      w.profile_.state_dbs.Return(std::move(w.db_));
    }
  } give_back{*this};
  if (auto db = profile_.state_dbs.Borrow(); db.ok()) {
    db_ = std::move(db).value();
  } else {
    return fail(db.status(), !prepared_);
  }
  if (auto source = profile_.sources.Borrow(); source.ok()) {
    source_ = std::move(source).value();
  } else {
    return fail(source.status(), !prepared_);
  }
  if (!prepared_) {
    if (auto s = Prepare(); !s.ok()) return fail(s, true);
    prepared_ = true;
  }
  if (!committed_) {
    if (auto s = InitialSync(); !s.ok()) {
      if (engine_.Stopping()) return fail(s, false);
      // After three failed attempts the state says so (InitialSyncFailed
      // fires); the attempts go on and a success sets Completed.
      if (++initial_failures_ >= 3 && db_) {
        // Counted once, when the state turns CompletedWithFailures.
        if (initial_failures_ == 3 && s.reason() != kTableRemoved) {
          CountError("initial_failed", /*current=*/false);
        }
        if (auto m = MarkInitialFailed(*db_, table_, Now()); !m.ok()) {
          spdlog::warn("sync {}: {}", who, m.message());
        }
      }
      return fail(s, false);
    }
    backoff_ = Millis(1000);
    initial_failures_ = 0;  // a later resync (a break) counts its own
    return clock_.Now();
  }
  if (writer_->NeedsEveryRowAgain()) {
    if (auto s = LogEveryRowAgain(); !s.ok()) return fail(s, false);
  }
  if (engine_.PausedUntil(table_.profile_name, table_.entity) > Now()) {
    idle_since_.reset();
    return now + Millis(100);
  }
  // Nothing new in the source since a round that found nothing (no other
  // connection committed, the same file): no round. The table is parked with
  // the profile's idle tables (whose tick writes its heartbeat) until its
  // source changes or the destination's check or a snapshot is due.
  const auto version = profile_.SourceVersionAt(now);
  if (version && idle_since_ == version) {
    if (now - last_check_ >= kIdleCheck) {
      last_check_ = now;
      if (auto s = writer_->Check(); !s.ok()) {
        idle_since_.reset();
        return fail(s, false);
      }
      for (const auto& notice : destination_->TakeNotices()) CountError(notice.reason, false);
    }
    if (auto s = MaybeSnapshot(); !s.ok()) {
      idle_since_.reset();
      return fail(s, false);
    }
    TimePoint due = last_check_ + kIdleCheck;
    if (changed_since_snapshot_) {
      const double left = last_snapshot_ +
                          std::chrono::duration<double>(profile_.config.snapshot_interval).count() -
                          Now();
      due = std::min(due, now + std::chrono::duration_cast<Duration>(
                                    std::chrono::duration<double>(std::max(0.0, left))));
    }
    return Next(due, /*idle=*/true);
  }
  idle_since_.reset();
  last_check_ = now;
  // The source's schema moved (a column added, ...): describe the table
  // again, so new columns reach the lake (appended after IsDelete).
  if (auto v = source_->SchemaVersion(); v.ok() && *v != schema_version_) {
    spdlog::info("sync {}: the source schema changed; describing the table again", who);
    writer_.reset();
    prepared_ = false;
    return clock_.Now();
  }
  auto applied = Round();
  if (!applied) return fail(applied.status(), false);
  backoff_ = Millis(1000);
  // A count that failed is tried again by the next round, not parked with
  // a heartbeat that would make it look fresh.
  if (*applied == 0 && version && !count_failing_) idle_since_ = version;
  // What the destination repaired on its own (a model.json deleted by
  // hand and recreated) is counted under the table whose round found it.
  for (const auto& notice : destination_->TakeNotices()) CountError(notice.reason, false);
  if (auto s = MaybeSnapshot(); !s.ok()) return fail(s, false);
  // Rounds start every sync_interval (a slow round is not followed by a
  // full interval of idling); a full batch means more is waiting: go on.
  if (*applied >= options_.batch_limit) return clock_.Now();
  return std::min(now + profile_.config.sync_interval,
                  clock_.Now() + profile_.config.sync_interval);
}

Status SyncEngine::Worker::InitialSync() {
  const double started = Now();
  spdlog::info("sync {}/{}: initial sync started", table_.profile_name, table_.entity);
  if (auto s = MarkInitialStarted(*db_, table_, started); !s.ok()) return s;
  if (auto s = writer_->Begin(true, started); !s.ok()) return s;
  writer_->ReportSyncedIds(false);  // an initial sync replaces the failed records
  // In place, the writer finds colliding keys among all it loads; append
  // only, the source is asked (only when the table can have any).
  bool twins_possible = false;
  if (table_.append_only) {
    auto may = source_->MayHaveKeyTwins(schema_);
    if (!may) return may.status();
    twins_possible = *may;
  }
  int64_t read = 0;
  auto cursor = source_->ReadAll(schema_, [&](const RowView& r) {
    ++read;
    return twins_possible ? PutWithTwins(r) : writer_->Put(r);
  });
  if (!cursor) {
    writer_->Abort();
    return cursor.status();
  }
  // A snapshot count may be a day old: the rows just read are the source's
  // count at the cursor.
  const int64_t count = source_->CountIsSnapshot() ? read : SourceCount(-1);
  auto result = writer_->Commit();
  if (!result) return result.status();
  Count(*result);
  RoundResult round;
  round.committed = {*cursor, result->marker};
  round.lake_records = result->records;
  round.source_records = count;
  round.initial = true;
  if (auto s = CommitState(round, *result); !s.ok()) return s;
  if (CarriesDrift()) snapshot_count_.Anchor(read, result->records + failed_count_);
  Report(*result);
  last_count_ = Now();
  changed_since_snapshot_ = true;
  last_snapshot_ = 0;  // the first snapshot right after the initial sync
  spdlog::info("sync {}/{}: initial sync completed: {} rows in {:.1f}s", table_.profile_name,
               table_.entity, result->records, Now() - started);
  return Status::Ok();
}

Result<size_t> SyncEngine::Worker::Round() {
  const double now = Now();
  if (auto s = CheckSource(); !s.ok()) return s;
  if (auto s = writer_->Begin(false, now); !s.ok()) return s;
  writer_->ReportSyncedIds(failed_count_ > 0);
  size_t n = 0;
  lags_.clear();
  auto cursor = source_->ReadChanges(schema_, committed_->cursor, options_.batch_limit,
                                     [&](const RowView& r) {
                                       ++n;
                                       if (r.changed_at > 0) lags_.push_back(r.changed_at);
                                       return PutWithTwins(r);
                                     });
  if (!cursor) {
    writer_->Abort();
    return cursor.status();
  }
  auto result = writer_->Commit();
  if (!result) return result.status();
  RoundResult round;
  round.committed = {*cursor, result->marker};
  round.lake_records = result->records;
  // Counting a big table is not free: when something changed, else every 30 s.
  if (n > 0 || now - last_count_ >= 30) {
    round.source_records = SourceCount(result->records);
    last_count_ = now;
  }
  if (auto s = CommitState(round, *result); !s.ok()) return s;
  Count(*result);
  Report(*result);
  if (n > 0) changed_since_snapshot_ = true;
  if (!lags_.empty()) {
    const double committed_at = Now();
    for (double at : lags_) table_metrics_->ObserveLag(std::max(0.0, committed_at - at));
  }
  return n;
}

int64_t SyncEngine::Worker::SourceCount(int64_t lake_records) {
  auto count = source_->RowCount(schema_);
  if (count) {
    if (std::exchange(count_failing_, false)) {
      spdlog::info("sync {}/{}: the source's row count works again", table_.profile_name,
                   table_.entity);
    }
    if (!CarriesDrift()) return *count;
    // Failed records as this round began (the batch's own join next round).
    return snapshot_count_.Estimate(*count, lake_records + failed_count_);
  }
  // A count cut short by Stop is not worth a warning.
  if (!engine_.Stopping() && !std::exchange(count_failing_, true)) {
    spdlog::warn(
        "sync {}/{}: cannot count the source's rows (crmrecordcount keeps its last "
        "value): {}",
        table_.profile_name, table_.entity, count.message());
  }
  if (CarriesDrift()) {
    // The drift as last known, carried: the state row stays a pair that a
    // restart can take it from.
    return snapshot_count_.Carried(lake_records + failed_count_).value_or(-1);
  }
  return -1;
}

Status SyncEngine::Worker::LogEveryRowAgain() {
  spdlog::info(
      "sync {}/{}: a column was added with a DEFAULT; every row is written again, so "
      "that the append-only records carry it",
      table_.profile_name, table_.entity);
  if (auto s = source_->LogChangeOfEveryRow(schema_); !s.ok()) return s;
  writer_->EveryRowLogged();
  if (auto s = writer_->Begin(false, Now()); !s.ok()) return s;
  auto result = writer_->Commit();  // nothing written: only the new marker
  if (!result) return result.status();
  RoundResult round;
  round.committed = {committed_->cursor, result->marker};
  round.lake_records = result->records;
  return CommitState(round, *result);
}

Status SyncEngine::Worker::MaybeSnapshot() {
  const double now = Now();
  if (!changed_since_snapshot_ ||
      now - last_snapshot_ <
          std::chrono::duration<double>(profile_.config.snapshot_interval).count()) {
    return Status::Ok();
  }
  auto snap = writer_->Snapshot(now, profile_.config.snapshots_to_keep);
  if (!snap) return snap.status();
  if (auto s = MarkSnapshot(*db_, table_, snap->records, snap->max_version, now); !s.ok()) return s;
  last_snapshot_ = now;
  changed_since_snapshot_ = false;
  return Status::Ok();
}

Status SyncEngine::Worker::CheckSource() {
  if (auto s = source_->CheckFile(); !s.ok()) return s;
  if (!committed_) return Status::Ok();  // nothing read yet that could break
  return source_->CheckChain(table_.entity, table_.profileentity_id, committed_->cursor);
}

Status SyncEngine::Worker::CommitState(const RoundResult& round, const BatchResult& batch) {
  // A refused commit (state.db deleted or replaced: state::Db) or a locked
  // store is counted; the round is redone from what is on disk.
  auto count = [this](Status s) {
    if (!s.ok()) metrics_.CountStateStoreWriteError();
    return s;
  };
  // The source learns the cursor first: a crash leaves its checkpoint ahead
  // of the committed cursor, never behind (sqlite_source.h).
  if (round.initial || !committed_ || round.committed.cursor != committed_->cursor) {
    if (auto s = source_->Checkpoint(schema_, table_.profileentity_id, round.committed.cursor);
        !s.ok()) {
      return s;
    }
  }
  state::Transaction tx(*db_);
  if (!tx.status().ok()) return count(tx.status());
  if (auto s = MarkRound(*db_, table_, round, Now()); !s.ok()) {
    return s.reason() == kTableRemoved ? s : count(s);  // removed: no write error
  }
  // Failed records with the cursor: a crash cannot lose them nor keep ones
  // that a committed batch cleared.
  const bool touches_failed =
      !batch.failed.empty() || (round.initial ? failed_count_ > 0 : !batch.synced_ids.empty());
  if (touches_failed) {
    if (auto s =
            RecordFailedRecords(*db_, table_, batch.failed, batch.synced_ids, round.initial, Now());
        !s.ok()) {
      return count(s);
    }
  }
  std::optional<int64_t> failed;
  if (touches_failed) {
    auto n = CountFailedRecords(*db_, table_);
    if (!n) return count(n.status());
    failed = *n;
  }
  if (auto s = tx.Commit(); !s.ok()) return count(s);
  committed_ = round.committed;
  if (failed) failed_count_ = *failed;
  SetErrorGauge("");
  return Status::Ok();
}

void SyncEngine::Worker::CountError(const std::string& reason, bool current) {
  table_metrics_->CountError(reason);
  if (current) SetErrorGauge(reason);
}

void SyncEngine::Worker::SetErrorGauge(const std::string& reason) {
  table_metrics_->SetCurrentError(reason);
}

Result<int64_t> SyncEngine::Worker::KeyTwins(const RowView& row) {
  const SourceColumn& key = schema_.columns[schema_.key];
  if (lake::RenderId(row.key, key, twin_id_) != nullptr) return int64_t{0};  // refused anyway
  lake::KeyTwins(row.key, key, twin_id_, twins_);
  if (twins_.empty()) return int64_t{0};
  return source_->CountKeys(schema_, twins_);
}

Status SyncEngine::Worker::PutWithTwins(const RowView& r) {
  auto twins = KeyTwins(r);
  if (!twins) return twins.status();
  if (*twins == 0) return writer_->Put(r);
  RowView row = r;
  row.key_twins = *twins;
  return writer_->Put(row);
}

void SyncEngine::Worker::Report(const BatchResult& r) {
  const std::string who = table_.profile_name + "/" + table_.entity;
  if (!r.failed.empty()) {
    table_metrics_->CountFailedRecords(static_cast<double>(r.failed.size()));
    // One line per reason per batch, with a count and one Id to look at.
    std::map<std::string_view, std::pair<size_t, std::string_view>> by_reason;
    for (const auto& f : r.failed) {
      auto& e = by_reason[f.reason];
      if (e.first++ == 0) e.second = f.id;
    }
    for (const auto& [reason, e] : by_reason) {
      spdlog::warn(
          "sync {}: {} row(s) left out of the lake (failed records): {} (e.g. Id {:.64}); see "
          "`linkwatch status`",
          who, e.first, reason, e.second);
    }
  }
  if (r.invalid_text > 0) {
    table_metrics_->CountInvalidText(static_cast<double>(r.invalid_text));
    if (!invalid_text_logged_) {
      invalid_text_logged_ = true;
      spdlog::warn(
          "sync {}: {} text value(s) were not valid UTF-8 and were written with U+FFFD in place "
          "of each bad sequence (counted in linkwatch_sync_invalid_text_total; logged once)",
          who, r.invalid_text);
    }
  }
}

void SyncEngine::Worker::Count(const BatchResult& r) {
  table_metrics_->CountChanges(r.created, r.updated, r.deleted);
}

SyncEngine::SyncEngine(EngineOptions options, const Clock& clock, SyncMetrics& metrics)
    : options_(std::move(options)), clock_(clock), metrics_(metrics) {
  if (options_.sources == nullptr) options_.sources = &SourceRegistry::Builtin();
  if (options_.destinations == nullptr) options_.destinations = &DestinationRegistry::Builtin();
}

SyncEngine::~SyncEngine() { Stop(); }

size_t SyncEngine::PoolSize(const EngineOptions& options) {
  if (options.pool_threads > 0) return options.pool_threads;
  // At least 4, so that a few long initial syncs leave threads for the
  // other tables' rounds; more on bigger machines.
  return std::max<size_t>(4, std::thread::hardware_concurrency());
}

Status SyncEngine::Start() {
  // The supervisor's connection (the store is created and migrated here);
  // the tables borrow the profiles' (Lender).
  auto store = state::StateStore::Open(options_.state_db);
  if (!store) return store.status();
  store_ = std::move(store).value();
  if (auto s = SuperviseOnce(); !s.ok()) return s;
  for (size_t i = 0; i < PoolSize(options_); ++i)
    pool_.emplace_back([this] {
      NameThisThread("lw-sync");
      RunPool();
    });
  supervisor_ = std::thread([this] {
    NameThisThread("lw-supervise");
    Supervise();
  });
  return Status::Ok();
}

void SyncEngine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !supervisor_.joinable() && pool_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  pool_cv_.notify_all();
  leader_cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  // A round waiting on the network (a Dataverse page, a Retry-After) ends
  // now rather than after its wait; a read cut short commits nothing.
  for (auto& [name, p] : profiles_) p->sources.CancelLent();
  // Each pool thread finishes the round it is in (the current batch).
  for (auto& t : pool_) t.join();
  pool_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    by_table_.clear();
  }
  for (auto& [name, p] : profiles_) {
    p->parked.clear();
    p->workers.clear();
  }
}

void SyncEngine::Pause(const std::string& profile, const std::string& table, double until) {
  std::lock_guard<std::mutex> lock(pause_mu_);
  paused_[{profile, table}] = until;
}

double SyncEngine::PausedUntil(const std::string& profile, const std::string& table) {
  std::lock_guard<std::mutex> lock(pause_mu_);
  auto it = paused_.find({profile, table});
  return it == paused_.end() ? 0 : it->second;
}

bool SyncEngine::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool SyncEngine::SyncNow(const std::string& profile, const std::string& table) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_table_.find({profile, table});
  if (it == by_table_.end() || stopping_) return false;
  Worker* w = it->second;
  if (w->retired || w->backing_off) return true;
  if (w->running) {
    w->poked = true;
    return true;
  }
  const TimePoint now = clock_.Now();
  if (w->queued) {
    if ((*w->queued)->first <= now) return true;
    queue_.erase(*w->queued);
    w->queued.reset();
    QueueLocked(w, now);
  } else if (w->profile().parked.erase(w) > 0) {
    QueueLocked(w, now);
  }
  return true;
}

void SyncEngine::Supervise() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (clock_.WaitFor(lock, cv_, options_.supervise_every, [this] { return stopping_; })) break;
    lock.unlock();
    if (auto s = SuperviseOnce(); !s.ok()) spdlog::warn("sync: {}", s.message());
    lock.lock();
  }
}

void SyncEngine::QueueLocked(Task* t, TimePoint due) {
  const bool earliest = queue_.empty() || due < queue_.begin()->first;
  t->queued = queue_.emplace(due, t);
  // Only a new earliest entry changes what the waiting thread waits for;
  // without one, a follower takes the lead.
  if (earliest) (has_leader_ ? leader_cv_ : pool_cv_).notify_one();
}

void SyncEngine::ParkLocked(Worker* w, TimePoint due) {
  ProfileRuntime& p = w->profile();
  p.parked[w] = due;
  if (!p.idle_tick_started) {
    p.idle_tick_started = true;
    QueueLocked(p.idle_tick.get(), p.NextIdleTick(clock_.Now()));
  }
}

void SyncEngine::RunPool() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const TimePoint due = queue_.empty() ? TimePoint::max() : queue_.begin()->first;
    if (due > clock_.Now()) {
      // One idle thread (the leader) waits for the earliest due task; the
      // others wait until the lead is free, so that a task coming due wakes
      // one thread, not the whole pool.
      if (has_leader_) {
        clock_.WaitUntil(lock, pool_cv_, TimePoint::max(),
                         [&] { return stopping_ || !has_leader_; });
        continue;
      }
      has_leader_ = true;
      clock_.WaitUntil(lock, leader_cv_, due, [&] {
        return stopping_ || (!queue_.empty() && queue_.begin()->first < due);
      });
      has_leader_ = false;
      continue;
    }
    Task* t = queue_.begin()->second;
    queue_.erase(queue_.begin());
    t->queued.reset();
    t->running = true;
    // Another thread takes the lead (or the next entry) while this one works.
    if (!queue_.empty() && !has_leader_) pool_cv_.notify_one();
    lock.unlock();
    std::optional<Next> next = t->Step();
    lock.lock();
    t->running = false;
    t->backing_off = next && next->failed;
    if (std::exchange(t->poked, false) && next && !t->backing_off) next = Next(clock_.Now());
    if (t->retired) {
      retired_cv_.notify_all();
    } else if (next && next->idle) {
      ParkLocked(static_cast<Worker*>(t), next->at);  // only a table's step is idle
    } else if (next) {
      QueueLocked(t, next->at);
    }
  }
}

std::optional<SyncEngine::Next> SyncEngine::TickIdle(ProfileRuntime& p) {
  const TimePoint now = clock_.Now();
  const double epoch_now = ToEpochSeconds(now);
  // Asked before the tables are looked at: a change committed after this
  // answer is seen by the next tick.
  const auto version = p.SourceVersionAt(now, /*fresh=*/true);
  std::vector<std::string> heartbeats;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = p.parked.begin(); it != p.parked.end();) {
      Worker* w = it->first;
      const bool changed = !version || w->idle_since() != version;
      const bool paused = PausedUntil(w->table().profile_name, w->table().entity) > epoch_now;
      // An unchanged table whose check is due does it now and is parked
      // again; it had its round all the same (the heartbeat).
      if (!changed && !paused) heartbeats.push_back(w->id());
      if (changed || paused || it->second <= now) {
        QueueLocked(w, now);
        it = p.parked.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (!heartbeats.empty()) {
    if (auto s = p.WriteHeartbeats(heartbeats, epoch_now); !s.ok()) {
      spdlog::warn("sync {}: cannot record the idle tables' rounds: {}", p.config.name,
                   s.message());
      metrics_.CountStateStoreWriteError();
    }
  }
  return Next(p.NextIdleTick(now));
}

void SyncEngine::Retire(Worker* w) {
  std::unique_lock<std::mutex> lock(mu_);
  w->retired = true;
  by_table_.erase({w->table().profile_name, w->table().entity});
  if (w->queued) {
    queue_.erase(*w->queued);
    w->queued.reset();
  }
  w->profile().parked.erase(w);
  // Not a timed wait: the round in flight finishes its batch.
  retired_cv_.wait(lock, [w] { return !w->running; });
}

Status SyncEngine::SuperviseOnce() {
  state::Db& db = store_->db();
  const double now = ToEpochSeconds(clock_.Now());
  // Nothing linked, unlinked, added or removed since the last pass: the
  // same workers are wanted (what they do in between does not move it).
  // Taken before the pass, so a change during it is seen at the next one.
  auto generation = LinkGeneration(db);
  if (!generation) return generation.status();
  if (supervised_ == *generation) return Status::Ok();
  for (const auto& pc : options_.profiles) {
    auto linked = ReadProfile(db, pc.name);
    if (!linked) return linked.status();
    if (!*linked) {
      // Never linked: the first run links it with the config's tables.
      state::Transaction tx(db);
      if (!tx.status().ok()) return tx.status();
      auto created = LinkProfile(db, pc, now);
      if (!created) return created.status();
      if (auto s = tx.Commit(); !s.ok()) return s;
      spdlog::info("sync: linked profile {} ({} tables)", pc.name, pc.tables.size());
      *linked = std::move(created).value();
    }
    auto& runtime = profiles_[pc.name];
    if (!runtime) {
      runtime = std::make_unique<ProfileRuntime>();
      runtime->config = pc;
      runtime->options = &options_;
      runtime->idle_tick = std::make_unique<IdleTick>(*this, *runtime);
    }
    std::map<std::string, const LinkedTable*> wanted;
    if ((*linked)->state == state::codes::kProfileActive) {
      for (const auto& t : (*linked)->tables) wanted[t.profileentity_id] = &t;
    }
    for (auto it = runtime->workers.begin(); it != runtime->workers.end();) {
      if (wanted.count(it->first)) {
        ++it;
        continue;
      }
      Retire(it->second.get());
      it = runtime->workers.erase(it);
    }
    if (wanted.empty()) {
      // Unlinked (or without tables): let go of the destination, so that
      // `unlink --delete-data` or `relink --clear` can remove its files and
      // a later link starts from what is on disk then.
      std::lock_guard<std::mutex> lock(runtime->mu);
      runtime->destination.reset();
    }
    for (const auto& [id, t] : wanted) {
      if (runtime->workers.count(id)) continue;
      auto w = std::make_unique<Worker>(*this, *runtime, *t, options_, clock_, metrics_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        by_table_[{pc.name, w->table().entity}] = w.get();
        QueueLocked(w.get(), clock_.Now());
      }
      runtime->workers[id] = std::move(w);
    }
  }
  supervised_ = *generation;
  return Status::Ok();
}

}  // namespace linkwatch::sync
