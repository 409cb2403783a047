// Watcher: the poll loop. Each cycle it asks every StateSource whether its
// data changed (cheap) and polls it when it did or when watch.interval has
// passed; evaluates the rules over the fresh snapshot (and, while rules
// depend on time, re-evaluates the last one between polls); hands every
// alert to the router and flushes the groups that are due. A failed poll marks the
// source down: its alerts freeze and SourceUnreachable fires after
// watch.source_unreachable_for.
//
// The Watcher owns its sources and borrows the engine and router; it is
// driven by one thread (RunOnce in a loop), which is also the only thread
// that touches the engine and router. Results leave through the publish
// callbacks, which must be thread-safe on the receiving side.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/watch/invalid_value_log.h"
#include "agent/watch/state_source.h"
#include "rules/alert.h"

namespace linkwatch {
class RuleEngine;
namespace notifiers {
class Router;
}
}  // namespace linkwatch

namespace linkwatch::watch {

class WatchMetrics;

struct WatcherOptions {
  Millis interval{15000};
  Millis source_unreachable_for{60000};
};

struct SourceStatus {
  std::string name;
  bool up = false;
  bool polled = false;   // at least one successful poll
  double last_poll = 0;  // epoch seconds of the last attempt
  double last_success = 0;
  std::string last_error;
};

struct WatcherCallbacks {
  std::function<void(const std::string& source, std::shared_ptr<const state::Snapshot>)> snapshot;
  std::function<void(const std::vector<Alert>&)> alerts;
  std::function<void(const std::vector<SourceStatus>&)> sources;
  // Called from any thread when a source's data may have changed: wakes
  // the loop that runs RunOnce (StateSource::NotifyChanges).
  std::function<void()> wake;
};

class Watcher {
 public:
  Watcher(WatcherOptions options, std::vector<std::unique_ptr<StateSource>> sources,
          RuleEngine& engine, notifiers::Router& router, const Clock& clock, WatchMetrics& metrics,
          WatcherCallbacks callbacks);
  ~Watcher();

  // One cycle; returns when it is done. Never throws.
  void RunOnce();
  // When the next cycle has timed work (a poll due, a group to flush).
  TimePoint NextWakeup() const;
  // Whether, as of the last cycle, every source calls `wake` when its data
  // may have changed. While not, the loop must run a cycle every few tens
  // of milliseconds for changes to be seen that fast.
  bool NotifiesChanges() const { return notified_; }
  // True once every source has been polled successfully at least once.
  bool Ready() const;
  void set_options(WatcherOptions options);

 private:
  struct Tracked;
  // `changed`: the source said its data changed (every group is evaluated at
  // once). `due`: the poll of every interval, or the first (it always
  // evaluates). A poll that is only `changed` and finds the data exactly as
  // last evaluated (a commit of the agent's own outbox, say) evaluates
  // nothing and keeps the interval's schedule. False when nothing was
  // evaluated and the source's state stayed as it was.
  bool PollSource(Tracked& t, double now, bool changed, bool due);
  void Evaluate(Tracked& t, double now, bool force);
  double ReevaluationPeriod() const;

  WatcherOptions options_;
  std::vector<std::unique_ptr<Tracked>> sources_;
  RuleEngine& engine_;
  notifiers::Router& router_;
  const Clock& clock_;
  WatchMetrics& metrics_;
  WatcherCallbacks callbacks_;
  double evaluation_seconds_ = 0;  // how long the last evaluation took
  bool notified_ = false;          // every source notifies its changes (wake)
  InvalidValueLog invalid_values_;
};

}  // namespace linkwatch::watch
