#include "notifiers/outbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "agent/core/thread_name.h"
#include "agent/core/time_format.h"
#include "agent/state/db.h"
#include "agent/state/state_store.h"
#include "notifiers/notifier_metrics.h"

namespace linkwatch::notifiers {
namespace {

// Workers re-check at least this often even when nothing wakes them.
constexpr Duration kMaxIdleWait = std::chrono::minutes(1);
constexpr Duration kDbErrorWait = std::chrono::seconds(1);
// Group commit of deliveries: the deletions of delivered rows are written in
// one transaction once this many are waiting, once the oldest has waited
// this long, or as soon as the worker has nothing to send right now.
constexpr size_t kMaxUnrecorded = 64;
constexpr Duration kMaxRecordDelay = std::chrono::milliseconds(10);

TimePoint At(double epoch_seconds) { return FromEpochSeconds(epoch_seconds); }

// Token bucket over the injected clock.
class TokenBucket {
 public:
  explicit TokenBucket(RateLimit limit) : limit_(limit), tokens_(limit.burst) {}
  // How long until a token is there (0 if one is).
  Duration Wait(TimePoint now) {
    Refill(now);
    if (tokens_ >= 1) return Duration::zero();
    const double seconds = (1 - tokens_) / limit_.per_second;
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)) +
           Duration(1);
  }
  void Take(TimePoint now) {
    Refill(now);
    tokens_ -= 1;
  }
  const RateLimit& limit() const { return limit_; }

 private:
  void Refill(TimePoint now) {
    if (last_ != TimePoint{} && now > last_) {
      tokens_ =
          std::min(limit_.burst, tokens_ + std::chrono::duration<double>(now - last_).count() *
                                               limit_.per_second);
    }
    if (now > last_) last_ = now;
  }
  RateLimit limit_;
  double tokens_;
  TimePoint last_{};
};

}  // namespace

struct Outbox::Row {
  int64_t id = 0;
  std::string receiver;
  std::string group_key;
  std::string payload;
  double created_at = 0;
  int attempts = 0;
  double next_attempt_at = 0;
};

struct Outbox::Worker {
  std::string receiver;
  std::shared_ptr<Notifier> notifier;
  std::optional<TokenBucket> bucket;
  std::condition_variable cv;
  bool wake = false;
  bool stop = false;
  int64_t in_flight = 0;   // row id being sent, 0 if none
  std::string last_error;  // "reason: detail" of the last failed attempt
  double last_error_at = 0;
  std::mt19937_64 rng{std::random_device{}()};
  std::thread thread;
};

Result<std::unique_ptr<Outbox>> Outbox::Open(const std::string& state_db_path, const Clock& clock,
                                             NotifierMetrics& metrics, OutboxOptions options) {
  auto db = state::Db::Open(state_db_path);
  if (!db.ok()) return db.status();
  if (auto s = state::Migrate(**db); !s.ok()) return s;
  const double cutoff =
      ToEpochSeconds(clock.Now()) - std::chrono::duration<double>(options.dead_retention).count();
  auto prune =
      (*db)->Prepare("DELETE FROM linkwatch_outbox WHERE state = 'dead' AND created_at < ?");
  if (!prune.ok()) return prune.status();
  if (auto s = prune->Bind(1, cutoff).Run(); !s.ok()) return s.WithContext("pruning the outbox");
  (*db)->SetBusyTimeout(options.busy_timeout);
  return std::unique_ptr<Outbox>(
      new Outbox(std::move(db).value(), clock, metrics, std::move(options)));
}

Outbox::Outbox(std::unique_ptr<state::Db> db, const Clock& clock, NotifierMetrics& metrics,
               OutboxOptions options)
    : clock_(clock), metrics_(metrics), options_(std::move(options)), db_(std::move(db)) {}

Outbox::~Outbox() { Stop(); }

void Outbox::Stop() {
  std::vector<std::unique_ptr<Worker>> workers;
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    for (auto& [name, w] : workers_) {
      w->stop = true;
      w->cv.notify_all();
      workers.push_back(std::move(w));
    }
    workers_.clear();
  }
  for (auto& w : workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  std::lock_guard lk(mu_);
  (void)RecordDeliveredLocked();
}

void Outbox::SetReceivers(const std::vector<ReceiverConfig>& receivers) {
  std::vector<std::unique_ptr<Worker>> removed;
  {
    std::lock_guard lk(mu_);
    if (stopped_) return;
    std::set<std::string> names;
    for (const auto& rc : receivers) {
      if (rc.notifier == nullptr) {
        spdlog::error("outbox: receiver {} has no notifier; ignored", rc.name);
        continue;
      }
      names.insert(rc.name);
      auto& slot = workers_[rc.name];
      if (slot == nullptr) {
        slot = std::make_unique<Worker>();
        slot->receiver = rc.name;
      }
      slot->notifier = rc.notifier;
      if (!rc.rate_limit) {
        slot->bucket.reset();
      } else if (!slot->bucket || slot->bucket->limit().per_second != rc.rate_limit->per_second ||
                 slot->bucket->limit().burst != rc.rate_limit->burst) {
        slot->bucket.emplace(*rc.rate_limit);
      }
      if (started_ && !slot->thread.joinable()) {
        StartWorkerLocked(slot.get());
      } else {
        slot->wake = true;
        slot->cv.notify_all();
      }
      UpdatePendingGaugeLocked(rc.name);
      InitCountersLocked(rc.name, rc.notifier->integration());
    }
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (names.count(it->first)) {
        ++it;
        continue;
      }
      it->second->stop = true;
      it->second->cv.notify_all();
      removed.push_back(std::move(it->second));
      it = workers_.erase(it);
      UpdatePendingGaugeLocked(removed.back()->receiver);  // removes its series
    }
    // Rows of receivers that no longer exist can never be delivered: make
    // them visible as dead letters instead of letting them wait forever.
    auto orphans = db_->Prepare(
        "SELECT id, receiver, group_key, created_at, attempts FROM linkwatch_outbox "
        "WHERE state = 'pending' ORDER BY id");
    std::vector<Row> dead;
    if (orphans.ok()) {
      while (orphans->Step()) {
        if (names.count(orphans->Text(1)) || delivered_.count(orphans->Int(0))) continue;
        Row r;
        r.id = orphans->Int(0);
        r.receiver = orphans->Text(1);
        r.group_key = orphans->Text(2);
        r.created_at = orphans->Real(3);
        r.attempts = static_cast<int>(orphans->Int(4));
        dead.push_back(std::move(r));
      }
    }
    for (const auto& r : dead) {
      spdlog::warn(
          "outbox: receiver {} is no longer configured; notification {} for {} is a "
          "dead letter",
          r.receiver, r.id, r.group_key);
      DeadLocked(r, "unknown", "receiverRemoved", "receiver removed from the config", false);
    }
  }
  for (auto& w : removed) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Outbox::Start() {
  std::lock_guard lk(mu_);
  if (started_ || stopped_) return;
  started_ = true;
  for (auto& [name, w] : workers_) StartWorkerLocked(w.get());
}

void Outbox::StartWorkerLocked(Worker* w) {
  w->thread = std::thread([this, w] {
    NameThisThread("lw-send " + w->receiver);
    Run(w);
  });
}

void Outbox::CountFailed(const std::string& receiver, const std::string& integration,
                         const std::string& reason) {
  metrics_.Failed(receiver, integration, reason);
}

void Outbox::CountDead(const std::string& receiver, const std::string& integration,
                       const std::string& reason) {
  metrics_.Dead(receiver, integration, reason);
}

Status Outbox::Enqueue(const std::vector<Notification>& batch,
                       const std::function<Status(state::Db&)>& also) {
  std::lock_guard lk(mu_);
  Status s = EnqueueLocked(batch, also);
  if (!s.ok()) CountWriteErrorLocked("queueing notifications", s);
  return s;
}

void Outbox::CountWriteErrorLocked(const std::string& what, const Status& s) {
  metrics_.CountStateStoreWriteError();
  int held_back = 0;
  if (write_error_log_.Allow(&held_back)) {
    spdlog::error("outbox: {}: {} ({} more such errors since the last report)", what, s.message(),
                  held_back);
  }
}

Status Outbox::EnqueueLocked(const std::vector<Notification>& batch,
                             const std::function<Status(state::Db&)>& also) {
  state::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status().WithContext("outbox");
  state::Statement* supersede = db_->Cached(
      "DELETE FROM linkwatch_outbox WHERE state = 'pending' AND receiver = ? AND group_key = ? "
      "AND id <> ?");
  state::Statement* insert = db_->Cached(
      "INSERT INTO linkwatch_outbox (receiver, group_key, payload, state, created_at, attempts, "
      "next_attempt_at) VALUES (?, ?, ?, 'pending', ?, 0, ?)");
  if (supersede == nullptr || insert == nullptr) {
    return Status::Error("outbox: preparing statements: " + db_->LastError());
  }
  const double now = ToEpochSeconds(clock_.Now());
  std::set<std::string> receivers;
  for (const auto& n : batch) {
    Notification copy;
    const Notification* item = &n;
    if (n.created_at == 0) {
      copy = n;
      copy.created_at = now;
      item = &copy;
    }
    int64_t in_flight = 0;
    if (auto it = workers_.find(n.receiver); it != workers_.end())
      in_flight = it->second->in_flight;
    if (auto s = supersede->Bind(1, n.receiver).Bind(2, n.group_key).Bind(3, in_flight).Run();
        !s.ok()) {
      return s.WithContext("outbox: superseding");
    }
    if (auto s = insert->Bind(1, n.receiver)
                     .Bind(2, n.group_key)
                     .Bind(3, ToPayload(*item))
                     .Bind(4, item->created_at)
                     .Bind(5, now)
                     .Run();
        !s.ok()) {
      return s.WithContext("outbox: inserting");
    }
    receivers.insert(n.receiver);
  }
  if (also) {
    if (auto s = also(*db_); !s.ok()) return s;
  }
  if (auto s = tx.Commit(); !s.ok()) return s.WithContext("outbox: committing");
  for (const auto& n : batch) {
    const bool template_error = std::any_of(n.alerts.begin(), n.alerts.end(),
                                            [](const Alert& a) { return a.template_error; });
    if (!template_error) continue;
    auto it = workers_.find(n.receiver);
    const std::string integration = it != workers_.end() && it->second->notifier
                                        ? it->second->notifier->integration()
                                        : "unknown";
    // Sent anyway with the error text, never dropped; counted once.
    CountFailed(n.receiver, integration, "template");
    spdlog::warn("outbox: notification for {} to {} carries a template error", n.group_key,
                 n.receiver);
  }
  for (const auto& r : receivers) {
    UpdatePendingGaugeLocked(r);
    if (auto it = workers_.find(r); it != workers_.end()) {
      it->second->wake = true;
      it->second->cv.notify_all();
    }
  }
  return Status::Ok();
}

Status Outbox::WithDb(const std::function<Status(state::Db&)>& fn) {
  std::lock_guard lk(mu_);
  return fn(*db_);
}

Result<std::vector<OutboxEntry>> Outbox::List(std::string_view state) {
  if (state != "" && state != "pending" && state != "dead") {
    return Status::Error("state must be pending or dead");
  }
  std::lock_guard lk(mu_);
  auto st = db_->Prepare(
      "SELECT id, receiver, group_key, state, attempts, next_attempt_at, last_error, "
      "dead_reason, created_at FROM linkwatch_outbox WHERE ?1 = '' OR state = ?1 ORDER BY id");
  if (!st.ok()) return st.status();
  st->Bind(1, state);
  std::vector<OutboxEntry> out;
  while (st->Step()) {
    OutboxEntry e;
    e.id = st->Int(0);
    e.receiver = st->Text(1);
    e.group_key = st->Text(2);
    e.state = st->Text(3);
    e.attempts = static_cast<int>(st->Int(4));
    e.next_attempt_at = st->Real(5);
    e.last_error = st->Text(6);
    e.dead_reason = st->Text(7);
    e.created_at = st->Real(8);
    out.push_back(std::move(e));
  }
  if (!st->status().ok()) return st->status();
  return out;
}

nlohmann::json Outbox::ListJson(std::string_view state) {
  nlohmann::json out = nlohmann::json::array();
  auto entries = List(state);
  if (!entries.ok()) {
    spdlog::error("outbox: listing notifications: {}", entries.message());
    return out;
  }
  for (const auto& e : *entries) {
    nlohmann::json j{
        {"id", e.id},       {"receiver", e.receiver}, {"group", e.group_key},
        {"state", e.state}, {"attempts", e.attempts}, {"createdAt", FormatDateTime(e.created_at)}};
    j["nextAttempt"] =
        e.state == "pending" ? nlohmann::json(FormatDateTime(e.next_attempt_at)) : nullptr;
    j["lastError"] = e.last_error.empty() ? nullptr : nlohmann::json(e.last_error);
    j["deadReason"] = e.dead_reason.empty() ? nullptr : nlohmann::json(e.dead_reason);
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json Outbox::ReceiversJson() {
  std::lock_guard lk(mu_);
  std::map<std::string, std::pair<int64_t, int64_t>> counts;  // pending, dead
  if (auto st = db_->Prepare(
          "SELECT receiver, state, COUNT(*) FROM linkwatch_outbox GROUP BY receiver, state");
      st.ok()) {
    while (st->Step()) {
      auto& c = counts[st->Text(0)];
      (st->Text(1) == "dead" ? c.second : c.first) = st->Int(2);
    }
  } else {
    spdlog::error("outbox: counting notifications: {}", st.message());
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, w] : workers_) {
    const auto& c = counts[name];
    out.push_back(
        {{"name", name},
         {"integration", w->notifier ? w->notifier->integration() : ""},
         {"pending", c.first},
         {"dead", c.second},
         {"lastError", w->last_error.empty() ? nlohmann::json() : nlohmann::json(w->last_error)},
         {"lastErrorAt", w->last_error_at > 0 ? nlohmann::json(FormatDateTime(w->last_error_at))
                                              : nlohmann::json()}});
  }
  return out;
}

void Outbox::Wake() {
  std::lock_guard lk(mu_);
  for (auto& [name, w] : workers_) {
    w->wake = true;
    w->cv.notify_all();
  }
}

Result<std::optional<Outbox::Row>> Outbox::LoadHeadLocked(const std::string& receiver) {
  // The first id not delivered yet, from the index alone (the delivered rows
  // before it wait for the next group commit), then that row.
  state::Statement* ids = db_->Cached(
      "SELECT id FROM linkwatch_outbox WHERE state = 'pending' AND receiver = ? ORDER BY id");
  state::Statement* st = db_->Cached(
      "SELECT group_key, payload, created_at, attempts, next_attempt_at FROM linkwatch_outbox "
      "WHERE id = ?");
  if (ids == nullptr || st == nullptr) return Status::Error("outbox: " + db_->LastError());
  ids->Bind(1, receiver);
  int64_t id = 0;
  while (ids->Step()) {
    if (delivered_.count(ids->Int(0))) continue;
    id = ids->Int(0);
    break;
  }
  Status s = ids->status();
  ids->Reset();
  if (!s.ok()) return s;
  std::optional<Row> row;
  if (id == 0) return row;
  st->Bind(1, id);
  if (st->Step()) {
    row.emplace();
    row->id = id;
    row->receiver = receiver;
    row->group_key = st->Text(0);
    row->payload = st->Text(1);
    row->created_at = st->Real(2);
    row->attempts = static_cast<int>(st->Int(3));
    row->next_attempt_at = st->Real(4);
  }
  s = st->status();
  st->Reset();
  if (!s.ok()) return s;
  return row;
}

void Outbox::Run(Worker* w) {
  std::unique_lock lk(mu_);
  while (!w->stop) {
    TimePoint due = StepLocked(w, lk);
    if (!delivered_.empty()) {
      const TimePoint now = clock_.Now();
      if ((due > now || w->stop || delivered_.size() >= kMaxUnrecorded ||
           now - first_unrecorded_ >= kMaxRecordDelay) &&
          !RecordDeliveredLocked()) {
        due = std::min(due, now + kDbErrorWait);  // tried again then
      }
    }
    if (w->stop) break;
    // An Enqueue, Wake, SetReceivers or Stop ends the wait early.
    clock_.WaitUntil(lk, w->cv, due, [w] { return w->wake || w->stop; });
    w->wake = false;
  }
}

TimePoint Outbox::StepLocked(Worker* w, std::unique_lock<std::mutex>& lk) {
  // Timed waits are capped, so a worker re-reads its head now and then even
  // if a wake-up were missed.
  const auto at_most = [&](TimePoint due) { return std::min(due, clock_.Now() + kMaxIdleWait); };
  const auto db_error = [&] { return clock_.Now() + kDbErrorWait; };
  // Rows whose deletion stays unrecorded are skipped: delivery goes on.
  auto head = LoadHeadLocked(w->receiver);
  if (!head.ok()) {
    spdlog::warn("outbox: receiver {}: {}", w->receiver, head.message());
    return db_error();
  }
  if (!head->has_value()) return TimePoint::max();  // until an Enqueue wakes it
  const Row row = std::move(**head);
  const std::string integration = w->notifier->integration();
  const TimePoint now = clock_.Now();
  const TimePoint expires = At(row.created_at) + options_.max_age;
  if (now >= expires) {
    if (!DeadLocked(row, integration, "expired",
                    "not delivered within max_age " + FormatDuration(options_.max_age), false)) {
      return db_error();
    }
    return now;
  }
  const TimePoint due = At(row.next_attempt_at);
  if (due > now) return at_most(std::min(due, expires));
  if (w->bucket) {
    if (Duration wait = w->bucket->Wait(now); wait > Duration::zero()) {
      return at_most(std::min(now + wait, expires));
    }
    w->bucket->Take(now);
  }
  auto notification = FromPayload(row.payload);
  if (!notification.ok()) {
    if (!DeadLocked(row, integration, "other", notification.message(), true)) return db_error();
    return now;
  }
  w->in_flight = row.id;
  std::shared_ptr<Notifier> notifier = w->notifier;
  lk.unlock();
  const SendResult result = notifier->Send(*notification);
  lk.lock();
  w->in_flight = 0;
  if (!result.template_error.empty() && row.attempts == 0) {
    // Sent with the default wording, never dropped; counted once.
    CountFailed(w->receiver, integration, "template");
    spdlog::warn("outbox: notification for {} to {}: {} (sent with the default wording)",
                 row.group_key, w->receiver, result.template_error);
  }
  if (result.ok()) {
    DeliveredLocked(w, row, integration);
  } else if (!FailedLocked(w, row, integration, result)) {
    return db_error();
  }
  return clock_.Now();  // the next row (or this one's retry) decides
}

std::optional<int64_t> Outbox::OthersVersion() {
  std::lock_guard lk(mu_);
  auto v = db_->DataVersion();
  if (!v.ok()) return std::nullopt;
  return *v;
}

bool Outbox::RecordDeliveredLocked() {
  if (delivered_.empty()) return true;
  Status s = [&] {
    state::Transaction tx(*db_);
    if (!tx.status().ok()) return tx.status();
    state::Statement* del = db_->Cached("DELETE FROM linkwatch_outbox WHERE id = ?");
    if (del == nullptr) return Status::Error(db_->LastError());
    for (const auto& [id, d] : delivered_) {
      if (auto s = del->Bind(1, id).Run(); !s.ok()) return s;
    }
    return tx.Commit();
  }();
  std::set<std::string> receivers;
  for (auto& [id, d] : delivered_) {
    // Counted once, when its deletion was first written (or refused).
    if (d.counted) continue;
    d.counted = true;
    metrics_.Delivered(d.receiver, d.integration, d.latency);
    receivers.insert(d.receiver);
  }
  if (!s.ok()) {
    // Kept, so that none is sent again while the store refuses the deletion
    // (a restart before that sends them once more: at least once).
    CountWriteErrorLocked(
        "marking " + std::to_string(delivered_.size()) + " notifications delivered", s);
  } else {
    delivered_.clear();
  }
  for (const auto& r : receivers) UpdatePendingGaugeLocked(r);
  return s.ok();
}

void Outbox::DeliveredLocked(Worker* w, const Row& row, const std::string& integration) {
  const double latency = std::max(0.0, ToEpochSeconds(clock_.Now()) - row.created_at);
  if (delivered_.empty()) first_unrecorded_ = clock_.Now();
  delivered_[row.id] = {row.receiver, integration, latency, false};
  spdlog::debug("outbox: receiver {}: delivered {} ({} after creation)", w->receiver, row.group_key,
                FormatDurationSeconds(latency));
}

bool Outbox::FailedLocked(Worker* w, const Row& row, const std::string& integration,
                          const SendResult& result) {
  const std::string reason = result.reason.empty() ? "other" : result.reason;
  const std::string error = reason + ": " + result.detail;
  w->last_error = error;
  w->last_error_at = ToEpochSeconds(clock_.Now());
  if (result.kind == SendResult::kPermanent) {
    spdlog::warn("outbox: receiver {}: notification for {} failed permanently ({}); dead letter",
                 w->receiver, row.group_key, error);
    return DeadLocked(row, integration, reason, error, true);
  }
  CountFailed(w->receiver, integration, reason);
  const int attempts = row.attempts + 1;
  // A newer notification for the group arrived while this one was in flight:
  // it carries the current state, so this one is not retried.
  state::Statement* newer = db_->Cached(
      "SELECT 1 FROM linkwatch_outbox WHERE state = 'pending' AND receiver = ? AND "
      "group_key = ? AND id > ? LIMIT 1");
  bool superseded = false;
  if (newer != nullptr) {
    newer->Bind(1, row.receiver).Bind(2, row.group_key).Bind(3, row.id);
    superseded = newer->Step();
    newer->Reset();
  }
  if (superseded) {
    state::Statement* del = db_->Cached("DELETE FROM linkwatch_outbox WHERE id = ?");
    Status s = del == nullptr ? Status::Error(db_->LastError()) : del->Bind(1, row.id).Run();
    spdlog::warn("outbox: receiver {}: attempt {} for {} failed ({}); superseded by a newer one",
                 w->receiver, attempts, row.group_key, error);
    UpdatePendingGaugeLocked(row.receiver);
    if (!s.ok()) CountWriteErrorLocked("dropping a superseded notification", s);
    return s.ok();
  }
  Millis delay = result.retry_after
                     ? std::clamp(*result.retry_after, Millis(0), options_.max_retry_after)
                     : BackoffLocked(w, attempts);
  const double next = ToEpochSeconds(clock_.Now() + delay);
  state::Statement* upd = db_->Cached(
      "UPDATE linkwatch_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?");
  Status s = upd == nullptr
                 ? Status::Error(db_->LastError())
                 : upd->Bind(1, attempts).Bind(2, next).Bind(3, error).Bind(4, row.id).Run();
  spdlog::warn("outbox: receiver {}: attempt {} for {} failed ({}); retrying in {}", w->receiver,
               attempts, row.group_key, error, FormatDuration(delay));
  if (!s.ok()) {
    CountWriteErrorLocked("recording attempt of notification " + std::to_string(row.id), s);
    return false;
  }
  return true;
}

bool Outbox::DeadLocked(const Row& row, const std::string& integration, const std::string& reason,
                        const std::string& error, bool count_attempt) {
  if (count_attempt) CountFailed(row.receiver, integration, reason);
  state::Statement* upd = db_->Cached(
      "UPDATE linkwatch_outbox SET state = 'dead', dead_reason = ?, last_error = ?, "
      "attempts = attempts + ? WHERE id = ?");
  Status s = upd == nullptr ? Status::Error(db_->LastError())
                            : upd->Bind(1, reason)
                                  .Bind(2, error)
                                  .Bind(3, count_attempt ? 1 : 0)
                                  .Bind(4, row.id)
                                  .Run();
  if (!s.ok()) {
    CountWriteErrorLocked("dead-lettering notification " + std::to_string(row.id), s);
    return false;
  }
  CountDead(row.receiver, integration, reason);
  UpdatePendingGaugeLocked(row.receiver);
  return true;
}

void Outbox::UpdatePendingGaugeLocked(const std::string& receiver) {
  // Only configured receivers have a series: a removed receiver's would
  // otherwise stay at its last value (its rows are dead letters by now).
  if (!workers_.count(receiver)) {
    metrics_.RemovePending(receiver);
    return;
  }
  state::Statement* count =
      db_->Cached("SELECT COUNT(*) FROM linkwatch_outbox WHERE state = 'pending' AND receiver = ?");
  if (count == nullptr) return;
  count->Bind(1, receiver);
  const double n = count->Step() ? static_cast<double>(count->Int(0)) : 0;
  count->Reset();
  metrics_.SetPending(receiver, n);
}

void Outbox::InitCountersLocked(const std::string& receiver, const std::string& integration) {
  metrics_.InitReceiver(receiver, integration);
}

Millis Outbox::BackoffLocked(Worker* w, int attempts) {
  return options_.backoff.Delay(attempts, w->rng);
}

}  // namespace linkwatch::notifiers
