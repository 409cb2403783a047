// Outbox: durable, at-least-once delivery of notifications (notifications.md,
// "Delivery model"), over the linkwatch_outbox table of the state store.
//
// * A notification is written (one transaction per Enqueue batch, together
//   with the caller's notification log rows) before any attempt, and its row
//   is deleted only after the receiver acknowledged it; rows still pending
//   after a crash or restart are sent when the receiver's worker starts.
// * One worker thread per receiver, so a slow receiver never blocks another;
//   per receiver delivery is first-in-first-out.
// * Group commit: the deletions of delivered rows are written together (64
//   at most, within 10 ms, or as soon as the worker has nothing due), and a
//   delivery is counted only then. A crash before that sends those rows once
//   more: "in flight" is sent and not yet recorded.
// * Per (receiver, group) at most one notification waits: a newer one
//   supersedes an undelivered older one, unless that one is being sent right
//   now (then the older one is dropped if its attempt fails).
// * Transport errors, timeouts, 5xx and 429 retry with exponential backoff
//   (500 ms, factor 2, cap 60 s, full jitter) or the answer's Retry-After (up
//   to 10 min); permanent failures (other 4xx) are dead-lettered with their
//   reason; rows older than max_age (24 h) are dead-lettered as "expired".
// * Optional token bucket per receiver; waiting for a token is no failure.
// * A notification whose alerts carry a template error is sent (with the
//   error text) and counted once as a failure with reason "template".
// * The store may be locked by another writer or lost (state.db deleted: the
//   connection refuses to commit). Writes use a short busy timeout, so an
//   Enqueue from the watcher never stalls evaluation: it fails, is counted
//   (linkwatch_state_store_write_errors_total{operation="outbox"}) and the
//   router keeps the notification in memory and retries. A delivered row
//   whose deletion cannot be written is remembered in memory and never sent
//   again (its deletion is retried); a failed attempt that cannot be recorded
//   waits in memory instead of being retried at once.
// Decisions use the injected Clock, and workers wait through it: a worker
// thread is a thin loop around StepLocked (one attempt, or one decision,
// then the time it is next due), so advancing a ManualClock wakes a worker
// whose retry, backoff or token came due.
//
// Lifecycle: Open, SetReceivers (again on reload), Start (workers begin
// delivering), Stop. Thread-safe: every method may be called from any
// thread. The outbox owns its own state::Db connection (guarded by one
// mutex) and shares the receivers' Notifiers with the caller's configs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/core/log_throttle.h"
#include "agent/core/status.h"
#include "agent/state/db.h"
#include "notifiers/notification.h"
#include "notifiers/receivers.h"

namespace linkwatch::notifiers {

class NotifierMetrics;

struct OutboxOptions {
  Backoff backoff;  // 500 ms, factor 2, cap 60 s, full jitter
  Millis max_retry_after{600000};
  Millis max_age{24LL * 3600 * 1000};
  // Dead rows older than this are removed when the outbox opens.
  Millis dead_retention{7LL * 24 * 3600 * 1000};
  // SQLite busy timeout of the outbox's connection after opening: short,
  // because Enqueue runs on the watcher thread and a worker holds the
  // outbox's mutex while it writes.
  Millis busy_timeout{state::Db::kWatcherBusyTimeout};
};

// One row, for /api/v1/notifications.
struct OutboxEntry {
  int64_t id = 0;
  std::string receiver;
  std::string group_key;
  std::string state;  // pending | dead
  int attempts = 0;
  double next_attempt_at = 0;  // epoch seconds
  std::string last_error;      // "reason: detail" of the last failed attempt
  std::string dead_reason;     // clientError, authError, expired, ...
  double created_at = 0;       // epoch seconds
};

class Outbox {
 public:
  // Opens its own connection to the state store at `state_db_path` (migrating
  // it if needed). `metrics` must outlive the outbox.
  static Result<std::unique_ptr<Outbox>> Open(const std::string& state_db_path, const Clock& clock,
                                              NotifierMetrics& metrics, OutboxOptions options = {});
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Installs the receivers (at start and on reload): new receivers get a
  // worker, kept ones get the new Notifier for their next attempt, removed
  // ones stop (an attempt in flight finishes first) and their pending rows
  // are dead-lettered with reason "receiverRemoved".
  void SetReceivers(const std::vector<ReceiverConfig>& receivers);

  // Starts the workers (pending rows of earlier runs go out now). Workers of
  // receivers added later start at once. Idempotent.
  void Start();

  // Writes `batch` in one transaction, superseding waiting notifications of
  // the same (receiver, group); `also`, when given, runs inside the same
  // transaction (the router writes its notification log there). Wakes the
  // receivers' workers once committed. created_at 0 means now.
  Status Enqueue(const std::vector<Notification>& batch,
                 const std::function<Status(state::Db&)>& also = nullptr);

  // Runs `fn` with the outbox's connection, serialized with everything else
  // (the router reads its notification log this way).
  Status WithDb(const std::function<Status(state::Db&)>& fn);

  // Rows in `state` ("pending" or "dead"; "" for both), oldest first.
  Result<std::vector<OutboxEntry>> List(std::string_view state);
  // The same for /api/v1/notifications: [{id, receiver, group, state,
  // attempts, createdAt, nextAttempt, lastError, deadReason}], times in
  // ISO-8601 UTC. A failure to read is logged and gives [].
  nlohmann::json ListJson(std::string_view state);

  // Per configured receiver, for the status page and /api/v1/status:
  // [{name, integration, pending, dead, lastError, lastErrorAt}]; the last
  // error is that of the receiver's last failed attempt since the start.
  nlohmann::json ReceiversJson();

  // PRAGMA data_version of the outbox's connection: it changes only when
  // another connection commits to the store, never with the outbox's own
  // writes (linkwatch_outbox and linkwatch_nflog, which no watch source
  // reads), so the watcher can tell those from changes to the data
  // (StateSource::SetOwnWriter). nullopt when it cannot be read.
  std::optional<int64_t> OthersVersion();

  // Makes every worker re-read the clock now.
  void Wake();
  // Stops every worker (attempts in flight finish first). Idempotent.
  void Stop();

 private:
  struct Worker;
  struct Row;
  Outbox(std::unique_ptr<state::Db> db, const Clock& clock, NotifierMetrics& metrics,
         OutboxOptions options);
  void StartWorkerLocked(Worker* w);
  // Metric updates.
  void CountFailed(const std::string& receiver, const std::string& integration,
                   const std::string& reason);
  void CountDead(const std::string& receiver, const std::string& integration,
                 const std::string& reason);
  void Run(Worker* w);
  // The helpers below need mu_ held.
  Status EnqueueLocked(const std::vector<Notification>& batch,
                       const std::function<Status(state::Db&)>& also);
  void CountWriteErrorLocked(const std::string& what, const Status& s);
  // Writes the deletions of the delivered rows in delivered_ in one
  // transaction (group commit), and counts them delivered; false (they stay
  // in delivered_, and are tried again) when the store refused.
  bool RecordDeliveredLocked();
  Result<std::optional<Row>> LoadHeadLocked(const std::string& receiver);
  // One round of `w`'s worker (mu_ held through `lk`, released while a
  // notification is sent): dead-letters an expired head, or sends it when it
  // is due. Returns when the worker is next due: now to go on at once, the
  // head's next attempt (or token, capped at a minute), or TimePoint::max()
  // when nothing is pending (an Enqueue wakes it).
  TimePoint StepLocked(Worker* w, std::unique_lock<std::mutex>& lk);
  // Notes an acknowledged row in delivered_; RecordDeliveredLocked makes it
  // durable. The other two return false when the store could not record the
  // outcome.
  void DeliveredLocked(Worker* w, const Row& row, const std::string& integration);
  bool FailedLocked(Worker* w, const Row& row, const std::string& integration,
                    const SendResult& result);
  bool DeadLocked(const Row& row, const std::string& integration, const std::string& reason,
                  const std::string& error, bool count_attempt);
  // Creates the receiver's notification counters at 0 (every documented
  // reason), so that rate() and absence alerts work before the first event.
  void InitCountersLocked(const std::string& receiver, const std::string& integration);
  void UpdatePendingGaugeLocked(const std::string& receiver);
  Millis BackoffLocked(Worker* w, int attempts);

  const Clock& clock_;
  NotifierMetrics& metrics_;
  const OutboxOptions options_;
  std::mutex mu_;
  std::unique_ptr<state::Db> db_;
  std::map<std::string, std::unique_ptr<Worker>> workers_;
  // Rows the receiver acknowledged whose deletion is not durable yet (waiting
  // for the next group commit, or refused by the store): never sent again,
  // and counted delivered once the deletion was written.
  struct Delivered {
    std::string receiver;
    std::string integration;
    double latency = 0;  // seconds from creation to the acknowledgement
    bool counted = false;
  };
  std::map<int64_t, Delivered> delivered_;
  TimePoint first_unrecorded_{};  // when the oldest entry of delivered_ was acknowledged
  LogThrottle write_error_log_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace linkwatch::notifiers
