// RulesMetrics: the rule engine's own metrics (contract.md section 7),
// built on the prometheus::Registry it is given (the agent's, or a test's
// local one): linkwatch_rule_evaluation_duration_seconds{group}, and the
// engine's failed alert_state writes (agent/state/store_metrics.h). Children are
// created once per group and cached, never looked up per evaluation.
//
// Outlives the RuleEngines built on it (a reload builds a new engine on the
// same metrics). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "agent/state/store_metrics.h"

namespace prometheus {
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace linkwatch {

class RulesMetrics {
 public:
  explicit RulesMetrics(prometheus::Registry& registry);
  RulesMetrics(const RulesMetrics&) = delete;
  RulesMetrics& operator=(const RulesMetrics&) = delete;

  // The duration histogram of one rule group (created on first use).
  prometheus::Histogram& EvaluationDuration(const std::string& group);
  void CountStateStoreWriteError() { write_errors_.Count(); }

 private:
  prometheus::Family<prometheus::Histogram>& evaluation_duration_;
  state::StoreWriteErrors write_errors_;
  std::mutex mu_;
  std::map<std::string, prometheus::Histogram*> by_group_;
};

}  // namespace linkwatch
