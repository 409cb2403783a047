// RuleEngine: evaluates rule groups over each watched source's Snapshot and
// keeps the alert lifecycle of contract.md section 4, "Alerts" (Prometheus
// semantics): an alert is pending from the first evaluation where its
// condition is true (activeAt), firing at the first evaluation where
// now - activeAt >= for (startsAt), and resolved at the first evaluation
// where the condition has been false or null for longer than keep_firing_for
// (endsAt); a pending alert whose condition stops holding is dropped. An
// alert whose subject row disappears resolves the same way. Resolved alerts
// are kept until Forget(), so the router can still notify them.
//
// Every alert carries labels alertname, source, profile, entity (for on:
// entity and on: external) and the rule's labels (templated); labels with an
// empty value are dropped, as in Prometheus. Alert state is persisted through
// an AlertStore (one transaction per call), so a restart neither restarts
// `for` nor forgets a firing alert nor loses a resolved one.
//
// Joins are resolved once per Evaluate (SnapshotIndex) and shared by all
// rules. The engine borrows `store` (may be null) and `metrics`, and
// is used from one thread; Alerts() returns copies for other threads.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/core/log_throttle.h"
#include "agent/core/status.h"
#include "agent/state/snapshot.h"
#include "rules/alert.h"
#include "rules/alert_store.h"
#include "rules/rule_file.h"

namespace linkwatch {

class RulesMetrics;

namespace rules {
class SnapshotIndex;
}

// Rule key of the built-in alert.
inline constexpr const char* kSourceUnreachableRule = "builtin/SourceUnreachable";

class RuleEngine {
 public:
  // store may be null (rule tests); `metrics` must outlive the engine.
  RuleEngine(std::vector<RuleGroup> groups, AlertStore* store, RulesMetrics& metrics);
  ~RuleEngine();
  RuleEngine(const RuleEngine&) = delete;
  RuleEngine& operator=(const RuleEngine&) = delete;

  // Loads persisted alerts (pending with activeAt, firing, resolved-not-yet-
  // forgotten) from the store. Alerts of rules that no longer exist resolve at
  // their source's next evaluation.
  Status Restore();

  // Evaluates every group over one source's snapshot at time `now` (epoch
  // seconds). A group is evaluated when `force` is true or its interval has
  // elapsed since its last scheduled evaluation of this source (forced
  // evaluations do not shift that schedule). Changed alerts are persisted
  // (one transaction per call). Returns true if any alert changed state.
  bool Evaluate(const std::string& source, const state::Snapshot& snap, double now, bool force);

  // Built-in SourceUnreachable{source, severity="critical"}: pending from
  // `down_since`, firing once now - down_since >= unreachable_for. While a
  // source is down its alerts are frozen (the caller does not call Evaluate
  // for it). `error` becomes the alert's description. Return true if the
  // alert changed state.
  bool SourceDown(const std::string& source, double down_since, double unreachable_for, double now,
                  const std::string& error = "");
  bool SourceUp(const std::string& source, double now);

  // Every alert the engine knows: pending, firing, and resolved ones not yet
  // forgotten, ordered by rule, source and fingerprint.
  std::vector<Alert> Alerts() const;
  // The router calls this once it has queued the resolved notification of
  // these alerts; alerts that fire again meanwhile are kept.
  void Forget(const std::vector<std::string>& fingerprints);
  // Swaps the rule set (SIGHUP reload): alerts of rules that still exist
  // (same group, alert name and position among equal names) keep their state.
  void Replace(std::vector<RuleGroup> groups);

  const std::vector<RuleGroup>& groups() const { return groups_; }
  // Whether alerts can change state with time alone, without a change in
  // the data: a condition reads now()/age(), or a rule has `for` or
  // `keep_firing_for`. The watcher then re-evaluates between polls.
  bool DependsOnTime() const;

 private:
  using AlertMap = std::map<std::string, Alert>;  // by fingerprint
  struct RuleState {
    std::string key;  // "group/alertname/n"
    size_t group = 0;
    size_t rule = 0;
    std::map<std::string, AlertMap> by_source;
  };

  void BuildRuleStates(std::map<std::string, std::map<std::string, AlertMap>> old_states);
  bool EvaluateRule(RuleState& rs, const std::string& source, rules::SnapshotIndex& index,
                    double now);
  bool ResolveOrphans(const std::string& source, double now);
  void MarkDirty(const std::string& rule, const Alert& alert);
  void MarkDeleted(const std::string& fingerprint);
  void Persist(double now);

  std::vector<RuleGroup> groups_;
  std::vector<RuleState> rules_;
  AlertStore* store_;
  RulesMetrics& metrics_;
  // Alerts of rules that no longer exist, by source: rule key -> alerts.
  std::map<std::string, std::map<std::string, AlertMap>> orphans_;
  std::map<std::string, Alert> unreachable_;                         // by source
  std::map<std::pair<std::string, std::string>, double> last_eval_;  // (group, source)
  // Not yet persisted: upserts by fingerprint, and deletions.
  std::map<std::string, StoredAlert> dirty_;
  LogThrottle persist_log_;  // a locked or lost store fails every round
  // After a failed write the next attempt waits a second (engine time), so
  // that a locked store costs one short busy wait per second, not one per
  // source and evaluation.
  double persist_retry_at_ = 0;
  std::set<std::string> deleted_;
  double last_now_ = 0;
  bool depends_on_time_ = false;  // see DependsOnTime()
  rules::BatchScratch scratch_;
};

}  // namespace linkwatch
