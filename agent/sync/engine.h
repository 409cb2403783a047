// SyncEngine: the sync core of `run`. For every profile of the config it
// links the profile on first sight (state-tables.md "link"), then keeps the
// state of every linked table (source connection, writer, cursor): the
// initial sync, then an incremental round every sync_interval. A table's
// round is a step function (Worker::Step: one round, then when the table is
// next due); a small pool of threads (PoolSize, independent of the number
// of tables) runs the steps that are due, one thread per table at a time,
// and waits through the Clock for the next due one. So initial syncs of
// several tables run concurrently and a newly added table does not pause
// the others. A table whose last round found nothing is parked with its
// profile's idle tables: it takes no pool time until its source changes. One
// idle tick per profile and sync_interval asks the source whether anything
// changed (one PRAGMA data_version), wakes the tables if so, and else writes
// the heartbeat of all parked tables in one transaction; see docs/sync.md.
//
// Each batch commits the destination first, then the source cursor, the
// destination's marker and the state rows in one SQLite transaction; after a
// crash a worker reopens the table with the stored marker (the destination
// cuts back what it wrote after it) and replays from the stored cursor.
// Failures are recorded (linkwatch_sync_error, with a reason code, counted
// in linkwatch_sync_table_errors_total) and retried with backoff; the other
// tables go on. A break in the chain of changes (Status::Break) is repaired
// by resyncing the table (docs/sync.md "Breaks").
//
// The state store decides what is linked (contract.md section 2): every
// second a supervisor thread re-reads the profiles and tables, starting workers for
// tables added (`tables add`, `link`, `relink`) and stopping those removed
// or of profiles no longer Active.
//
// Thread-safe: Start/Stop from one thread; everything else is internal.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/config.h"
#include "agent/core/status.h"

namespace linkwatch::state {
class StateStore;
}

namespace linkwatch::sync {

class DestinationRegistry;
class SourceRegistry;
class SyncMetrics;

struct EngineOptions {
  std::string state_db;
  std::vector<ProfileConfig> profiles;
  Millis supervise_every{1000};
  size_t batch_limit = 50000;  // changes per incremental batch
  Millis max_backoff{60000};
  // Where profiles' sources and destinations are opened from, by their
  // config's type (borrowed; they must outlive the engine). Null: the
  // builtin registries. Tests register fakes, or wrap the real lake to
  // inject faults.
  const SourceRegistry* sources = nullptr;
  const DestinationRegistry* destinations = nullptr;
  // Threads that run the tables' rounds; 0: PoolSize's default.
  size_t pool_threads = 0;
};

class SyncEngine {
 public:
  SyncEngine(EngineOptions options, const Clock& clock, SyncMetrics& metrics);
  ~SyncEngine();
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  // Links profiles seen for the first time and starts the workers.
  Status Start();
  // Lets every worker finish its current batch, then joins them.
  void Stop();
  // Holds a table's rounds until `until` (epoch seconds): nothing is read or
  // written and its state rows are left alone, exactly as when a sync hangs.
  // The demo uses it to show a stall; `run` never does.
  void Pause(const std::string& profile, const std::string& table, double until);
  double PausedUntil(const std::string& profile, const std::string& table);
  // Runs a round of the table now instead of at its next sync_interval (a
  // Dataverse webhook's poke): a table waiting is queued now, one in a
  // round runs another right after it. A table backing off after a failure
  // keeps its backoff. False when the profile syncs no such table. From
  // any thread.
  bool SyncNow(const std::string& profile, const std::string& table);
  // Whether Stop has begun.
  bool Stopping();

  // The pool's size: options.pool_threads, else max(4, cores).
  static size_t PoolSize(const EngineOptions& options);

 private:
  struct Next;
  struct Task;
  class Worker;
  class IdleTick;
  struct ProfileRuntime;
  void Supervise();
  Status SuperviseOnce();
  // A pool thread: runs the earliest due task's Step, queues it again for
  // when it says (or parks an idle table); waits through the clock while
  // nothing is due.
  void RunPool();
  void QueueLocked(Task* t, TimePoint due);   // mu_ held
  void ParkLocked(Worker* w, TimePoint due);  // mu_ held
  // The profile's idle tick: wakes the parked tables that have something
  // to do, writes the heartbeat of the others; when it is next due.
  std::optional<Next> TickIdle(ProfileRuntime& profile);
  // Takes a table out of the queue (or the parked ones) and waits for its
  // round in flight.
  void Retire(Worker* w);

  EngineOptions options_;
  const Clock& clock_;
  SyncMetrics& metrics_;
  std::mutex mu_;               // guards stopping_, the queue and the parked tables
  std::condition_variable cv_;  // the supervisor's
  bool stopping_ = false;
  std::thread supervisor_;
  std::vector<std::thread> pool_;
  bool has_leader_ = false;                   // an idle pool thread waits for the earliest task
  std::condition_variable leader_cv_;         // its wait: the earliest entry changed, or stopping
  std::condition_variable pool_cv_;           // the other idle threads': the lead is free
  std::condition_variable retired_cv_;        // a retired table's round finished
  std::multimap<TimePoint, Task*> queue_;     // tasks by when they are next due
  std::unique_ptr<state::StateStore> store_;  // used by the supervisor only
  std::optional<int64_t> supervised_;         // LinkGeneration at the last full pass
  std::map<std::string, std::unique_ptr<ProfileRuntime>> profiles_;  // by name
  // The workers by (profile, table), for SyncNow; guarded by mu_.
  std::map<std::pair<std::string, std::string>, Worker*> by_table_;
  std::mutex pause_mu_;
  std::map<std::pair<std::string, std::string>, double> paused_;
};

}  // namespace linkwatch::sync
