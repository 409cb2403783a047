#include "agent/sync/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/state/db.h"
#include "agent/state/schema.h"
#include "agent/state/state_store.h"
#include "agent/sync/destination_registry.h"
#include "agent/sync/destinations/lake_format.h"
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

// A profile's destination, opened once and shared by its table workers; a
// failure to open it (unwritable folder, corrupt model.json) is retried.
struct SyncEngine::ProfileRuntime {
  ProfileConfig config;
  const EngineOptions* options = nullptr;
  std::mutex mu;
  std::shared_ptr<sync::Destination> destination;
  std::map<std::string, std::unique_ptr<Worker>> workers;  // by profileentity id

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

class SyncEngine::Worker {
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
    Stop();
    if (thread_.joinable()) thread_.join();
    SetErrorGauge("");  // a removed table has no current error
  }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  double Now() const { return ToEpochSeconds(clock_.Now()); }
  bool Wait(Millis d) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, d, [this] { return stop_; });
    return !stop_;
  }
  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }

  void Run();
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
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;

  std::unique_ptr<state::Db> db_;
  std::unique_ptr<Source> source_;
  std::shared_ptr<Destination> destination_;
  std::unique_ptr<TableWriter> writer_;
  TableSchema schema_;
  std::optional<Committed> committed_;
  double last_count_ = 0;
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
  if (!db_) {
    auto db = state::Db::Open(options_.state_db, state::Db::Mode::kReadWrite);
    if (!db) return db.status();
    db_ = std::move(db).value();
  }
  const ProfileConfig& pc = profile_.config;
  if (!source_) {
    auto opener = options_.sources->Opener(pc);
    if (!opener) return opener.status();
    auto src = (*opener)();
    if (!src) return src.status();
    source_ = std::move(src).value();
  }
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
  TableOptions options;
  options.append_only = table_.append_only;
  options.partition = table_.month_partitions ? Partitioning::kMonth : Partitioning::kYear;
  auto writer = destination_->OpenTable(schema_, options, committed_ ? committed_->marker : "");
  if (!writer) return writer.status();
  writer_ = std::move(writer).value();
  return Status::Ok();
}

void SyncEngine::Worker::Run() {
  const std::string who = table_.profile_name + "/" + table_.entity;
  Millis backoff{1000};
  bool prepared = false;
  // Returns whether to go on (false once stopping, or when the table was
  // removed while a batch was in flight: nothing is recorded for it then).
  auto fail = [&](const Status& s, bool unsyncable) {
    if (s.reason() == kTableRemoved) {
      spdlog::info("sync {}: the table was removed; its worker stops", who);
      SetErrorGauge("");
      return false;
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
      spdlog::warn("sync {}: {} (retrying in {}s)", who, s.message(), backoff.count() / 1000.0);
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
    prepared = false;
    const bool go_on = Wait(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
    return go_on;
  };
  while (!Stopping()) {
    if (!prepared) {
      if (auto s = Prepare(); !s.ok()) {
        if (!fail(s, true)) return;
        continue;
      }
      prepared = true;
    }
    if (!committed_) {
      if (auto s = InitialSync(); !s.ok()) {
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
        if (!fail(s, false)) return;
        continue;
      }
      backoff = Millis(1000);
      initial_failures_ = 0;  // a later resync (a break) counts its own
      continue;
    }
    if (writer_->NeedsEveryRowAgain()) {
      if (auto s = LogEveryRowAgain(); !s.ok()) {
        if (!fail(s, false)) return;
        continue;
      }
    }
    if (engine_.PausedUntil(table_.profile_name, table_.entity) > Now()) {
      if (!Wait(Millis(100))) return;
      continue;
    }
    // The source's schema moved (a column added, ...): describe the table
    // again, so new columns reach the lake (appended after IsDelete).
    if (auto v = source_->SchemaVersion(); v.ok() && *v != schema_version_) {
      spdlog::info("sync {}: the source schema changed; describing the table again", who);
      writer_.reset();
      prepared = false;
      continue;
    }
    const auto round_started = std::chrono::steady_clock::now();
    auto applied = Round();
    if (!applied) {
      if (!fail(applied.status(), false)) return;
      continue;
    }
    backoff = Millis(1000);
    // What the destination repaired on its own (a model.json deleted by
    // hand and recreated) is counted under the table whose round found it.
    for (const auto& notice : destination_->TakeNotices()) CountError(notice.reason, false);
    if (auto s = MaybeSnapshot(); !s.ok()) {
      if (!fail(s, false)) return;
      continue;
    }
    // Rounds start every sync_interval (a slow round is not followed by a
    // full interval of idling); a full batch means more is waiting: go on.
    const auto spent =
        std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - round_started);
    if (*applied < options_.batch_limit && spent < profile_.config.sync_interval &&
        !Wait(profile_.config.sync_interval - spent)) {
      return;
    }
  }
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
  auto cursor = source_->ReadAll(schema_, [&](const RowView& r) {
    return twins_possible ? PutWithTwins(r) : writer_->Put(r);
  });
  if (!cursor) {
    writer_->Abort();
    return cursor.status();
  }
  auto count = source_->RowCount(schema_);
  if (!count) {
    writer_->Abort();
    return count.status();
  }
  auto result = writer_->Commit();
  if (!result) return result.status();
  Count(*result);
  RoundResult round;
  round.committed = {*cursor, result->marker};
  round.lake_records = result->records;
  round.source_records = *count;
  round.initial = true;
  if (auto s = CommitState(round, *result); !s.ok()) return s;
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
    auto count = source_->RowCount(schema_);
    if (!count) return count.status();
    round.source_records = *count;
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

Status SyncEngine::Start() {
  // The supervisor's connection (the store is created and migrated here);
  // each worker opens its own.
  auto store = state::StateStore::Open(options_.state_db);
  if (!store) return store.status();
  store_ = std::move(store).value();
  if (auto s = SuperviseOnce(); !s.ok()) return s;
  supervisor_ = std::thread([this] { Supervise(); });
  return Status::Ok();
}

void SyncEngine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !supervisor_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  for (auto& [name, p] : profiles_) {
    for (auto& [id, w] : p->workers) w->Stop();
  }
  for (auto& [name, p] : profiles_) {
    for (auto& [id, w] : p->workers) w->Join();
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

bool SyncEngine::Wait(Millis d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

void SyncEngine::Supervise() {
  while (Wait(options_.supervise_every)) {
    if (auto s = SuperviseOnce(); !s.ok()) spdlog::warn("sync: {}", s.message());
  }
}

Status SyncEngine::SuperviseOnce() {
  state::Db& db = store_->db();
  const double now = ToEpochSeconds(clock_.Now());
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
      it->second->Stop();
      it->second->Join();
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
      w->Start();
      runtime->workers[id] = std::move(w);
    }
  }
  return Status::Ok();
}

}  // namespace linkwatch::sync
