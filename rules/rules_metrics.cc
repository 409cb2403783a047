#include "rules/rules_metrics.h"

#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace linkwatch {
namespace {

// Evaluations take microseconds to a few milliseconds (docs/performance.md).
const prometheus::Histogram::BucketBoundaries& EvalBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  return kBuckets;
}

}  // namespace

RulesMetrics::RulesMetrics(prometheus::Registry& registry)
    : evaluation_duration_(prometheus::BuildHistogram()
                               .Name("linkwatch_rule_evaluation_duration_seconds")
                               .Help("Time to evaluate one rule group over one source's state.")
                               .Register(registry)),
      write_errors_(registry, "alert_state") {}

prometheus::Histogram& RulesMetrics::EvaluationDuration(const std::string& group) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = by_group_.try_emplace(group, nullptr);
  if (fresh) it->second = &evaluation_duration_.Add({{"group", group}}, EvalBuckets());
  return *it->second;
}

}  // namespace linkwatch
