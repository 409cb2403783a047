// Inhibitor: Alertmanager's inhibit_rules (contract.md section 3). While an
// alert matching a rule's source_matchers fires, alerts matching its
// target_matchers that have the same values for every label in `equal` (a
// label missing on both sides counts as equal) are muted. When an alert
// matches both sides, alerts that also match both do not inhibit it (so an
// alert never inhibits itself), as in Alertmanager. The inhibitor stage of the notifier pipeline:
// the router gives it every alert (Observe) and asks Muted when a group is flushed.
//
// Thread-safe: Observe and Replace come from the watcher thread, InhibitedBy
// from the API threads.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "notifiers/matcher.h"
#include "notifiers/muter.h"

namespace YAML {
class Node;
}
namespace linkwatch {
class Problems;
}

namespace linkwatch::notifiers {

struct InhibitRule {
  std::vector<Matcher> source_matchers;
  std::vector<Matcher> target_matchers;
  std::vector<std::string> equal;
};

// Parses `inhibit_rules:` (a list; absent or null is none). Problems carry
// file:line:column.
std::vector<InhibitRule> ParseInhibitRules(const YAML::Node& rules, const std::string& file,
                                           Problems& problems);

class Inhibitor final : public Muter {
 public:
  explicit Inhibitor(std::vector<InhibitRule> rules = {});
  // SIGHUP reload.
  void Replace(std::vector<InhibitRule> rules);

  void Observe(const std::vector<Alert>& alerts) override;
  bool Muted(const Alert& alert, TimePoint now) const override;
  // Fingerprints of the firing alerts that inhibit `alert` (the API's
  // inhibitedBy).
  std::vector<std::string> InhibitedBy(const Alert& alert) const;

 private:
  mutable std::mutex mu_;
  std::vector<InhibitRule> rules_;
  // Per rule, the firing alerts matching its source matchers.
  std::vector<std::vector<Alert>> sources_;
};

}  // namespace linkwatch::notifiers
