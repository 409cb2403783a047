#include "agent/watch/watcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "agent/watch/watch_metrics.h"
#include "notifiers/router.h"
#include "rules/rule_engine.h"

namespace linkwatch::watch {

struct Watcher::Tracked {
  std::unique_ptr<StateSource> source;
  SourceStatus status;
  double next_poll = 0;  // epoch seconds
  double down_since = 0;
  // The last snapshot, re-evaluated between polls while rules depend on time.
  std::shared_ptr<const state::Snapshot> snapshot;
  double next_reevaluation = 0;
};

Watcher::Watcher(WatcherOptions options, std::vector<std::unique_ptr<StateSource>> sources,
                 RuleEngine& engine, notifiers::Router& router, const Clock& clock,
                 WatchMetrics& metrics, WatcherCallbacks callbacks)
    : options_(options),
      engine_(engine),
      router_(router),
      clock_(clock),
      metrics_(metrics),
      callbacks_(std::move(callbacks)) {
  for (auto& s : sources) {
    // Every source's counters exist from the start, at 0, so that rate()
    // and absence alerts work before the first (failed) poll.
    metrics_.AddSource(s->name());
    s->SetPollInterval(options_.interval);
    auto t = std::make_unique<Tracked>();
    t->status.name = s->name();
    t->source = std::move(s);
    sources_.push_back(std::move(t));
  }
}

Watcher::~Watcher() = default;

void Watcher::set_options(WatcherOptions options) {
  options_ = options;
  for (auto& t : sources_) t->source->SetPollInterval(options_.interval);
}

bool Watcher::PollSource(Tracked& t, double now, bool changed, bool due) {
  const std::string& name = t.status.name;
  t.status.last_poll = now;
  const double next_poll = t.next_poll;
  t.next_poll = now + std::chrono::duration<double>(options_.interval).count();
  metrics_.CountPoll(name);
  auto snap = t.source->Poll();
  if (!snap.ok()) {
    metrics_.CountPollError(name);
    if (t.status.up || t.down_since == 0) {
      spdlog::warn("watch source {} unreachable: {}", name, snap.message());
      t.down_since = now;
    }
    t.status.up = false;
    t.status.last_error = snap.message();
    engine_.SourceDown(name, t.down_since,
                       std::chrono::duration<double>(options_.source_unreachable_for).count(), now);
    return true;
  }
  if (!due && t.status.up && t.snapshot && **snap == *t.snapshot) {
    t.next_poll = next_poll;
    t.status.last_success = now;
    return false;
  }
  if (!t.status.up && t.status.polled) spdlog::info("watch source {} reachable again", name);
  t.status.up = true;
  t.status.polled = true;
  t.status.last_success = now;
  t.status.last_error.clear();
  t.down_since = 0;
  engine_.SourceUp(name, now);
  invalid_values_.Report(name, (*snap)->invalid_values, metrics_);
  if (callbacks_.snapshot) callbacks_.snapshot(name, *snap);
  // A change in the data re-evaluates every group at once; otherwise groups
  // run on their own interval.
  t.snapshot = *snap;
  Evaluate(t, now, changed);
  return true;
}

void Watcher::Evaluate(Tracked& t, double now, bool force) {
  const auto started = std::chrono::steady_clock::now();
  engine_.Evaluate(t.status.name, *t.snapshot, now, force);
  evaluation_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  t.next_reevaluation = now + ReevaluationPeriod();
}

// A condition such as age(x) > 15m becomes true with time alone: evaluating
// only at polls would see it up to one interval late. Between polls the last
// snapshot is re-evaluated every tenth of the interval, but never so often
// that evaluation takes more than ~5 % of a core, and at most every 50 ms.
double Watcher::ReevaluationPeriod() const {
  const double interval = std::chrono::duration<double>(options_.interval).count();
  return std::max({interval / 10, 20 * evaluation_seconds_, 0.05});
}

void Watcher::RunOnce() {
  const double now = ToEpochSeconds(clock_.Now());
  bool polled = false;
  // Before Changed(): a change after it then still wakes the loop.
  notified_ = static_cast<bool>(callbacks_.wake);
  for (auto& t : sources_) {
    if (notified_ && !t->source->NotifyChanges(callbacks_.wake)) notified_ = false;
  }
  for (auto& t : sources_) {
    const bool changed = t->source->Changed();
    bool evaluated = false;
    if (changed || now >= t->next_poll) {
      evaluated = PollSource(*t, now, changed || !t->status.polled,
                             now >= t->next_poll || !t->status.polled);
      polled = polled || evaluated;
    }
    if (!evaluated && t->status.up && t->snapshot && now >= t->next_reevaluation &&
        engine_.DependsOnTime()) {
      const double due = t->next_reevaluation;
      Evaluate(*t, now, /*force=*/true);
      // On the grid of the last poll: a cycle woken a little late does not
      // push every later re-evaluation back by as much.
      const double period = ReevaluationPeriod();
      if (now - due < period) t->next_reevaluation = due + period;
      polled = true;
    }
  }
  if (polled) router_.Update(engine_.Alerts());
  auto forget = router_.Flush();
  if (!forget.empty()) engine_.Forget(forget);
  if (polled || !forget.empty()) {
    if (callbacks_.alerts) callbacks_.alerts(engine_.Alerts());
    if (callbacks_.sources) {
      std::vector<SourceStatus> list;
      for (const auto& t : sources_) list.push_back(t->status);
      callbacks_.sources(list);
    }
  }
}

TimePoint Watcher::NextWakeup() const {
  TimePoint next = router_.NextFlush();
  const bool timed = engine_.DependsOnTime();
  for (const auto& t : sources_) {
    next = std::min(next, FromEpochSeconds(t->next_poll));
    if (timed && t->status.up && t->snapshot) {
      next = std::min(next, FromEpochSeconds(t->next_reevaluation));
    }
  }
  return next;
}

bool Watcher::Ready() const {
  return std::all_of(sources_.begin(), sources_.end(),
                     [](const auto& t) { return t->status.polled; });
}

}  // namespace linkwatch::watch
