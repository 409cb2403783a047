#include "notifiers/inhibitor.h"

#include <yaml-cpp/yaml.h>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"

namespace linkwatch::notifiers {
namespace {

std::vector<Matcher> ParseMatcherList(const YAML::Node& node, const std::string& what,
                                      Problems& p) {
  std::vector<Matcher> out;
  if (!node) return out;
  if (!node.IsSequence()) {
    p.Add(node, what + " must be a list of strings such as 'alertname=\"ProfileError\"'");
    return out;
  }
  for (const auto& item : node) {
    auto text = GetString(item, p, what);
    if (!text) continue;
    auto parsed = ParseMatchers(*text);
    if (!parsed.ok()) {
      p.Add(item, what + ": " + parsed.message());
      continue;
    }
    for (auto& m : *parsed) out.push_back(std::move(m));
  }
  return out;
}

bool SameValues(const LabelSet& a, const LabelSet& b, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    auto x = a.find(n);
    auto y = b.find(n);
    const std::string& vx = x == a.end() ? std::string() : x->second;
    const std::string& vy = y == b.end() ? std::string() : y->second;
    if (vx != vy) return false;
  }
  return true;
}

}  // namespace

std::vector<InhibitRule> ParseInhibitRules(const YAML::Node& rules, const std::string& file,
                                           Problems& problems) {
  Problems local(file);
  std::vector<InhibitRule> out;
  if (rules && !rules.IsNull()) {
    if (!rules.IsSequence()) {
      local.Add(rules, "inhibit_rules must be a list");
    } else {
      for (const auto& r : rules) {
        if (!CheckKeys(r, {"source_matchers", "target_matchers", "equal"}, local, "inhibit rule")) {
          continue;
        }
        InhibitRule rule;
        rule.source_matchers =
            ParseMatcherList(r["source_matchers"], "inhibit rule source_matchers", local);
        rule.target_matchers =
            ParseMatcherList(r["target_matchers"], "inhibit rule target_matchers", local);
        if (r["equal"]) rule.equal = GetStringList(r["equal"], local, "inhibit rule equal");
        if (!r["source_matchers"] || !r["target_matchers"]) {
          local.Add(r, "an inhibit rule needs source_matchers and target_matchers");
          continue;
        }
        out.push_back(std::move(rule));
      }
    }
  }
  problems.Append(local.list());
  return out;
}

Inhibitor::Inhibitor(std::vector<InhibitRule> rules) { Replace(std::move(rules)); }

void Inhibitor::Replace(std::vector<InhibitRule> rules) {
  std::lock_guard lk(mu_);
  rules_ = std::move(rules);
  sources_.assign(rules_.size(), {});
}

void Inhibitor::Observe(const std::vector<Alert>& alerts) {
  std::lock_guard lk(mu_);
  for (size_t i = 0; i < rules_.size(); ++i) {
    sources_[i].clear();
    for (const Alert& a : alerts) {
      if (a.state == AlertState::kFiring && MatchAll(rules_[i].source_matchers, a.labels)) {
        sources_[i].push_back(a);
      }
    }
  }
}

std::vector<std::string> Inhibitor::InhibitedBy(const Alert& alert) const {
  std::vector<std::string> by;
  std::lock_guard lk(mu_);
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (!MatchAll(rules_[i].target_matchers, alert.labels)) continue;
    // Alertmanager: when the alert matches the source side too, alerts that
    // match both sides do not inhibit it (so no alert inhibits itself).
    const bool two_sided = MatchAll(rules_[i].source_matchers, alert.labels);
    for (const Alert& source : sources_[i]) {
      if (two_sided && MatchAll(rules_[i].target_matchers, source.labels)) continue;
      if (SameValues(source.labels, alert.labels, rules_[i].equal))
        by.push_back(source.fingerprint);
    }
  }
  return by;
}

bool Inhibitor::Muted(const Alert& alert, TimePoint) const { return !InhibitedBy(alert).empty(); }

}  // namespace linkwatch::notifiers
