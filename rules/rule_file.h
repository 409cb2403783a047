// Rule files (contract.md section 4): Prometheus-like groups of alerting
// rules whose conditions are expressions over the state tables.
//
//   groups:
//     - name: synapse-link
//       interval: 30s            # optional; default: the caller's (watch.interval)
//       rules:
//         - alert: SyncStalled
//           on: entity           # entity (default) | profile | external
//           expr: syncstate == "InProgress" and age(lastsynceddatatime) > 15m
//           for: 5m
//           keep_firing_for: 0s
//           labels: {severity: critical}
//           annotations: {summary: "{{ entityname }} stalled"}
//
// Loading compiles every expression and template, and collects every
// problem of every file (unknown keys with a suggestion, bad durations,
// expression errors at their exact line and column inside the YAML scalar,
// unknown columns and choice labels, type errors, duplicate group names,
// missing alert or expr) before throwing one InputError.
// The returned groups are immutable values; share them freely.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "agent/core/clock.h"
#include "rules/expr_program.h"
#include "rules/template.h"

namespace linkwatch {

struct Rule {
  std::string alert;
  rules::Subject on = rules::Subject::kEntity;
  rules::Expr expr;
  Millis for_duration{0};
  Millis keep_firing_for{0};
  std::vector<std::pair<std::string, rules::Template>> labels;       // in file order
  std::vector<std::pair<std::string, rules::Template>> annotations;  // in file order
  std::string file;
  int line = 0;
};

struct RuleGroup {
  std::string name;
  Millis interval{0};
  std::vector<Rule> rules;
  std::string file;
};

// Loads and checks rule files; throws InputError listing every problem.
std::vector<RuleGroup> LoadRuleFiles(const std::vector<std::string>& paths,
                                     Millis default_interval);
// The same for text that came from `name` (tests and fuzzing).
std::vector<RuleGroup> LoadRuleString(const std::string& text, const std::string& name,
                                      Millis default_interval);

namespace rules {

// Labels every alert of a rule on `subject` carries before the rule's own.
std::vector<std::string> BaseLabelNames(Subject subject);

// 1-based line and column of byte `offset` of the value of scalar `node`,
// found by walking `source` (the text the node was parsed from) from the
// node's mark: quotes, escapes, block-scalar headers, indentation and line
// folding are accounted for.
std::pair<int, int> ScalarPosition(const std::string& source, int mark_line, int mark_column,
                                   const std::string& value, int offset);

}  // namespace rules
}  // namespace linkwatch
