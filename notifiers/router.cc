#include "notifiers/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/state/db.h"
#include "notifiers/notification.h"
#include "notifiers/outbox.h"
#include "notifiers/receivers.h"

namespace linkwatch::notifiers {
namespace {

// Notification log entries older than this (and older than every
// repeat_interval) are dropped when the router starts (Alertmanager keeps
// its log for 120h by default).
constexpr Duration kLogRetention = std::chrono::hours(120);
// A flush whose outbox write failed is tried again this much later.
constexpr Duration kRetryFailedFlush = std::chrono::seconds(1);
// Due groups are queued this many per outbox transaction, so that when
// thousands of groups flush at once the receivers' workers start sending
// after the first few milliseconds, not after the whole burst is written.
constexpr size_t kFlushChunk = 256;

}  // namespace

ReceiverDispatchMap DispatchOf(const std::vector<ReceiverConfig>& receivers) {
  ReceiverDispatchMap out;
  for (const auto& r : receivers) {
    out[r.name] = {r.send_resolved, r.notifier ? r.notifier->ResendInterval() : std::nullopt};
  }
  return out;
}

Router::Router(RouteConfig route, Outbox& outbox, const Clock& clock, std::string external_url,
               ReceiverDispatchMap receivers)
    : outbox_(outbox),
      clock_(clock),
      external_url_(std::move(external_url)),
      receivers_(std::move(receivers)) {
  tree_ = std::make_unique<RouteTree>(std::move(route));
  LoadLog();
}

Router::~Router() = default;

void Router::LoadLog() {
  const TimePoint cutoff =
      clock_.Now() - std::max<Duration>(kLogRetention, tree_->MaxRepeatInterval());
  Status s = outbox_.WithDb([&](state::Db& db) { return log_.Load(db, cutoff); });
  if (!s.ok()) {
    // Degrade: without the log, groups notify as if new.
    spdlog::error("router: reading the notification log: {}", s.message());
  }
}

void Router::SetMuters(std::vector<std::shared_ptr<Muter>> muters) { muters_ = std::move(muters); }

void Router::Insert(const Alert& alert, TimePoint now, const std::set<int>& skip) {
  for (int node : tree_->Match(alert.labels)) {
    if (skip.count(node)) continue;
    const RouteConfig& cfg = *tree_->node(node).cfg;
    LabelSet group_labels = RouteTree::GroupLabels(cfg, alert.labels);
    std::string key = tree_->node(node).key + ":" + FormatLabelSet(group_labels);
    auto [it, fresh] = groups_.try_emplace({node, key});
    Group& g = it->second;
    if (fresh) {
      g.node = node;
      g.key = std::move(key);
      g.labels = std::move(group_labels);
      g.next_flush = now + cfg.group_wait;
    }
    // Alertmanager: an alert that has been firing for longer than group_wait
    // (e.g. across a restart) makes a group that never flushed flush now.
    if (!g.flushed && alert.starts_at > 0 &&
        FromEpochSeconds(alert.starts_at) + cfg.group_wait <= now) {
      g.next_flush = std::min(g.next_flush, now);
    }
    g.alerts[alert.fingerprint] = alert;
  }
}

void Router::Update(const std::vector<Alert>& alerts) {
  for (const auto& m : muters_) m->Observe(alerts);
  const TimePoint now = clock_.Now();
  std::set<std::string> reported;
  std::map<std::string, Done> still_done;
  for (const Alert& a : alerts) {
    if (a.state != AlertState::kFiring && a.state != AlertState::kResolved) continue;
    reported.insert(a.fingerprint);
    auto d = done_.find(a.fingerprint);
    if (a.state == AlertState::kResolved && d != done_.end() && d->second.ends_at == a.ends_at) {
      // Its resolution was already queued by some routes (all of them if the
      // engine has not yet forgotten it): only the others get it.
      still_done.insert(*d);
      Insert(a, now, d->second.nodes);
      continue;
    }
    Insert(a, now);
  }
  done_ = std::move(still_done);
  // Alerts the engine no longer knows (rule removed on reload): resolved now.
  const double now_s = ToEpochSeconds(now);
  for (auto& [id, g] : groups_) {
    for (auto& [fp, a] : g.alerts) {
      if (reported.count(fp) || a.state != AlertState::kFiring) continue;
      a.state = AlertState::kResolved;
      a.ends_at = now_s;
    }
  }
}

std::vector<std::string> Router::Flush() {
  const TimePoint now = clock_.Now();
  const double now_s = ToEpochSeconds(now);
  struct Due {
    Group* group;
    std::optional<NotificationLog::Entry> log;  // new log entry, if the group needed an update
    std::optional<Notification> notification;   // what the update sends, if anything
  };
  std::vector<Due> due;
  for (auto& [id, g] : groups_) {
    if (g.next_flush > now) continue;
    const RouteConfig& cfg = *tree_->node(g.node).cfg;
    const std::string& receiver = cfg.receiver;
    const ReceiverDispatch dispatch =
        receivers_.count(receiver) ? receivers_.at(receiver) : ReceiverDispatch{};
    const bool send_resolved = dispatch.send_resolved;
    Duration repeat_interval = cfg.repeat_interval;
    if (dispatch.resend_interval)
      repeat_interval = std::min(repeat_interval, Duration(*dispatch.resend_interval));

    std::vector<const Alert*> firing, resolved;
    std::set<std::string> firing_fps, resolved_fps;
    for (const auto& [fp, a] : g.alerts) {
      bool muted = false;
      for (const auto& m : muters_) muted = muted || m->Muted(a, now);
      if (muted) continue;
      if (a.state == AlertState::kFiring) {
        firing.push_back(&a);
        firing_fps.insert(fp);
      } else {
        resolved.push_back(&a);
        resolved_fps.insert(fp);
      }
    }
    const bool needs = NotificationLog::NeedsUpdate(
        log_.Query(receiver, g.key), firing_fps, resolved_fps, send_resolved, repeat_interval, now);
    Due d{&g, std::nullopt, std::nullopt};
    if (needs) {
      d.log = NotificationLog::Entry{firing_fps, resolved_fps, now_s};
      Notification n;
      n.receiver = receiver;
      n.group_key = g.key;
      n.group_labels = g.labels;
      n.created_at = now_s;
      n.external_url = external_url_;
      for (const Alert* a : firing) n.alerts.push_back(*a);
      if (send_resolved) {
        for (const Alert* a : resolved) n.alerts.push_back(*a);
      }
      std::sort(n.alerts.begin(), n.alerts.end(),
                [](const Alert& x, const Alert& y) { return x.labels < y.labels; });
      // With send_resolved false and nothing firing there is nothing to send,
      // but the log still records that the group was handled.
      if (!n.alerts.empty()) d.notification = std::move(n);
    }
    due.push_back(std::move(d));
  }
  if (due.empty()) return {};

  // Each chunk's notifications and log entries in one transaction.
  for (size_t begin = 0; begin < due.size(); begin += kFlushChunk) {
    const size_t end = std::min(due.size(), begin + kFlushChunk);
    std::vector<Notification> batch;
    bool any_log = false;
    for (size_t i = begin; i < end; ++i) {
      if (due[i].notification) batch.push_back(std::move(*due[i].notification));
      any_log = any_log || due[i].log.has_value();
    }
    if (!any_log && batch.empty()) continue;
    Status s = outbox_.Enqueue(batch, [&](state::Db& db) -> Status {
      for (size_t i = begin; i < end; ++i) {
        const Due& d = due[i];
        if (!d.log) continue;
        const std::string& receiver = tree_->node(d.group->node).cfg->receiver;
        if (auto r = NotificationLog::Log(db, receiver, d.group->key, *d.log); !r.ok()) return r;
      }
      return Status::Ok();
    });
    if (!s.ok()) {
      // This chunk and the rest are tried again; earlier chunks are queued.
      spdlog::error("router: queueing notifications: {}", s.message());
      for (size_t i = begin; i < due.size(); ++i)
        due[i].group->next_flush = now + kRetryFailedFlush;
      due.resize(begin);
      break;
    }
  }

  // Committed: record the log, drop notified resolved alerts, re-arm timers.
  std::set<std::string> dropped;
  for (auto& d : due) {
    Group& g = *d.group;
    const RouteConfig& cfg = *tree_->node(g.node).cfg;
    if (d.log) log_.Commit(cfg.receiver, g.key, std::move(*d.log));
    for (auto it = g.alerts.begin(); it != g.alerts.end();) {
      if (it->second.state == AlertState::kResolved) {
        dropped.insert(it->first);
        Done& done = done_[it->first];
        if (done.ends_at != it->second.ends_at) done = Done{it->second.ends_at, {}};
        done.nodes.insert(g.node);
        it = g.alerts.erase(it);
      } else {
        ++it;
      }
    }
    g.flushed = true;
    Duration interval = cfg.group_interval;
    if (auto it = receivers_.find(cfg.receiver);
        it != receivers_.end() && it->second.resend_interval) {
      interval = std::min(interval, Duration(*it->second.resend_interval));
    }
    g.next_flush = now + interval;
  }
  for (auto it = groups_.begin(); it != groups_.end();) {
    it = it->second.alerts.empty() ? groups_.erase(it) : std::next(it);
  }
  // Forget only what no group holds any more (another route may still wait).
  std::vector<std::string> forget;
  if (dropped.empty()) return forget;
  std::set<std::string_view> held;
  for (const auto& [id, g] : groups_) {
    for (const auto& [fp, a] : g.alerts) held.insert(fp);
  }
  for (const auto& fp : dropped) {
    if (!held.count(fp)) forget.push_back(fp);
  }
  return forget;
}

TimePoint Router::NextFlush() const {
  TimePoint next = TimePoint::max();
  for (const auto& [id, g] : groups_) next = std::min(next, g.next_flush);
  return next;
}

void Router::Replace(RouteConfig route, ReceiverDispatchMap receivers) {
  std::map<std::string, Alert> held;
  for (const auto& [id, g] : groups_) {
    for (const auto& [fp, a] : g.alerts) held[fp] = a;
  }
  groups_.clear();
  done_.clear();  // route indices change
  tree_ = std::make_unique<RouteTree>(std::move(route));
  receivers_ = std::move(receivers);
  const TimePoint now = clock_.Now();
  for (const auto& [fp, a] : held) Insert(a, now);
}

std::vector<std::string> Router::ReceiversFor(const LabelSet& labels) const {
  return tree_->ReceiversFor(labels);
}

std::vector<Router::GroupInfo> Router::Groups() const {
  std::vector<GroupInfo> out;
  for (const auto& [id, g] : groups_) {
    GroupInfo info{tree_->node(g.node).cfg->receiver, g.key, g.labels, {}, g.next_flush};
    for (const auto& [fp, a] : g.alerts) info.fingerprints.push_back(fp);
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace linkwatch::notifiers
