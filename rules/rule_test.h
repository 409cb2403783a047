// Rule unit tests (contract.md section 5, `linkwatch rules test`): like
// `promtool test rules`, over state-table rows instead of series.
//
//   rule_files: [../examples/rules/synapse-link.yaml]   # relative to this file; globs allowed
//   tests:
//     - name: a stalled table fires after for
//       start: 2026-01-01T00:00:00Z   # default 1970-01-01T00:00:00Z
//       interval: 1m                  # evaluation step (default 1m); overrides group intervals
//       source: local                 # optional: the source label (default "local")
//       states:                       # table contents from `at` on, replaced wholesale
//         - at: 0m
//           synapselinkprofile: [{name: crm, profilestate: Active}]
//           synapselinkprofileentitystate: [{profile: crm, entityname: account, ...}]
//       alerts:
//         - at: 21m
//           firing: [{alertname: SyncStalled, labels: {...}, annotations: {...}}]
//
// Rows may leave columns out (null); ids are generated unless given; a lookup
// is written as the referenced row's name; choices as labels or codes. Every
// `at` must be a multiple of `interval`. `firing` lists every firing alert
// exactly: labels without alertname and source; annotations when given.
//
// Each test runs a fresh RuleEngine (no store) from `start` to its last
// `at`, one forced evaluation per interval, on Snapshots built in memory.
// Single-threaded; the function is reentrant.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace linkwatch {

// Prints one PASS/FAIL line per test and, for each failing `at`, the expected
// and the got alerts (one per line, labels sorted; "-" marks a missing one,
// "+" an unexpected one). Returns 0 when every test passes, 1 otherwise.
// Throws InputError (file:line:column) for malformed test or rule files,
// before running any test.
int RunRuleTestFiles(const std::vector<std::string>& files, std::ostream& out);

}  // namespace linkwatch
