#include "rules/rule_engine.h"

#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "agent/core/time_format.h"
#include "rules/rules_metrics.h"
#include "rules/snapshot_index.h"

namespace linkwatch {
namespace {

using rules::EvalContext;
using rules::Subject;
using rules::Value;

double Seconds(Millis d) { return static_cast<double>(d.count()) / 1000.0; }

// Column indexes of the base labels, looked up once.
struct LabelCols {
  int profile_name = state::Table(state::TableId::kProfile).ColumnIndex("name");
  int es_entityname = state::Table(state::TableId::kEntityState).ColumnIndex("entityname");
  int ext_entityname = state::Table(state::TableId::kExternalTableState).ColumnIndex("entityname");
  int ext_workspace =
      state::Table(state::TableId::kExternalTableState).ColumnIndex("synapseworkspacename");
};
const LabelCols& LC() {
  static const LabelCols cols;
  return cols;
}

std::string TextAt(const rules::SnapshotIndex& index, state::TableId table, int32_t row, int col) {
  const state::Cell* c = index.CellAt(table, row, col);
  return c ? std::string(c->text()) : std::string();
}

// alertname, source, profile and entity of one subject row.
LabelSet BaseLabels(const Rule& rule, const std::string& source, const rules::SnapshotIndex& index,
                    const rules::JoinRow& row) {
  const LabelCols& c = LC();
  LabelSet labels;
  labels["alertname"] = rule.alert;
  labels["source"] = source;
  switch (rule.on) {
    case Subject::kEntity:
      labels["profile"] =
          TextAt(index, state::TableId::kProfile, row[rules::kSlotProfile], c.profile_name);
      labels["entity"] =
          TextAt(index, state::TableId::kEntityState, row[rules::kSlotSelf], c.es_entityname);
      break;
    case Subject::kProfile:
      labels["profile"] =
          TextAt(index, state::TableId::kProfile, row[rules::kSlotSelf], c.profile_name);
      break;
    case Subject::kExternal:
      // The workspace name is the profile's name, even without a profile row.
      labels["profile"] = TextAt(index, state::TableId::kExternalTableState, row[rules::kSlotSelf],
                                 c.ext_workspace);
      labels["entity"] = TextAt(index, state::TableId::kExternalTableState, row[rules::kSlotSelf],
                                c.ext_entityname);
      break;
  }
  return labels;
}

void DropEmpty(LabelSet& labels) {
  for (auto it = labels.begin(); it != labels.end();) {
    it = it->second.empty() ? labels.erase(it) : std::next(it);
  }
}

std::string RuleKeyOf(const std::string& group, const std::string& alert, int n) {
  return group + "/" + alert + "/" + std::to_string(n);
}

}  // namespace

RuleEngine::RuleEngine(std::vector<RuleGroup> groups, AlertStore* store, RulesMetrics& metrics)
    : groups_(std::move(groups)), store_(store), metrics_(metrics) {
  BuildRuleStates({});
}

RuleEngine::~RuleEngine() = default;

void RuleEngine::BuildRuleStates(std::map<std::string, std::map<std::string, AlertMap>> old) {
  rules_.clear();
  // Asked every watcher tick, so decided once per rule set.
  depends_on_time_ = false;
  for (const auto& group : groups_) {
    for (const auto& rule : group.rules) {
      depends_on_time_ |= rule.expr.uses_time() || rule.for_duration.count() > 0 ||
                          rule.keep_firing_for.count() > 0;
    }
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::map<std::string, int> seen;
    for (size_t r = 0; r < groups_[g].rules.size(); ++r) {
      const Rule& rule = groups_[g].rules[r];
      RuleState rs;
      rs.key = RuleKeyOf(groups_[g].name, rule.alert, seen[rule.alert]++);
      rs.group = g;
      rs.rule = r;
      if (auto it = old.find(rs.key); it != old.end()) {
        rs.by_source = std::move(it->second);
        old.erase(it);
      }
      // A rule that comes back adopts its orphaned alerts again.
      for (auto& [source, by_rule] : orphans_) {
        if (auto it = by_rule.find(rs.key); it != by_rule.end()) {
          auto& mine = rs.by_source[source];
          for (auto& [fp, a] : it->second) mine.emplace(fp, std::move(a));
          by_rule.erase(it);
        }
      }
      rules_.push_back(std::move(rs));
    }
  }
  // Alerts of rules that are gone resolve at their source's next evaluation.
  for (auto& [key, by_source] : old) {
    for (auto& [source, alerts] : by_source) {
      if (!alerts.empty()) orphans_[source][key] = std::move(alerts);
    }
  }
}

Status RuleEngine::Restore() {
  if (!store_) return Status::Ok();
  auto loaded = store_->LoadAll();
  if (!loaded) return loaded.status();
  std::map<std::string, size_t> by_key;
  for (size_t i = 0; i < rules_.size(); ++i) by_key[rules_[i].key] = i;
  for (auto& stored : *loaded) {
    Alert& a = stored.alert;
    const std::string source = a.labels.count("source") ? a.labels.at("source") : std::string();
    if (stored.rule == kSourceUnreachableRule) {
      unreachable_[source] = std::move(a);
    } else if (auto it = by_key.find(stored.rule); it != by_key.end()) {
      rules_[it->second].by_source[source][a.fingerprint] = std::move(a);
    } else {
      orphans_[source][stored.rule][a.fingerprint] = std::move(a);
    }
  }
  return Status::Ok();
}

bool RuleEngine::Evaluate(const std::string& source, const state::Snapshot& snap, double now,
                          bool force) {
  last_now_ = now;
  bool changed = ResolveOrphans(source, now);
  std::vector<size_t> due;
  for (size_t g = 0; g < groups_.size(); ++g) {
    auto key = std::make_pair(groups_[g].name, source);
    auto last = last_eval_.find(key);
    // A millisecond of slack so that a poll exactly one interval later is due.
    const bool scheduled =
        last == last_eval_.end() || now + 1e-3 >= last->second + Seconds(groups_[g].interval);
    if (!scheduled && !force) continue;
    if (scheduled) last_eval_[key] = now;
    due.push_back(g);
  }
  if (due.empty()) {
    Persist(now);
    return changed;
  }
  // One index for every due rule: joins, lookups and the columns they scan.
  rules::SnapshotIndex index(snap);
  {
    rules::IndexNeeds needs;
    for (const auto& rs : rules_) {
      if (std::find(due.begin(), due.end(), rs.group) == due.end()) continue;
      const Rule& rule = groups_[rs.group].rules[rs.rule];
      rule.expr.AddNeeds(needs, rule.on, /*columns=*/true);
      for (const auto& [name, t] : rule.labels) t.AddNeeds(needs, rule.on);
      for (const auto& [name, t] : rule.annotations) t.AddNeeds(needs, rule.on);
      // The profile label of entity rules comes from the profile join.
      if (rule.on == Subject::kEntity) {
        needs.slots[static_cast<int>(Subject::kEntity)] |= rules::SlotBit(rules::kSlotProfile);
      }
    }
    index.Prepare(needs);
  }
  for (size_t g : due) {
    const RuleGroup& group = groups_[g];
    const auto started = std::chrono::steady_clock::now();
    for (auto& rs : rules_) {
      if (rs.group == g) changed |= EvaluateRule(rs, source, index, now);
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    metrics_.EvaluationDuration(group.name).Observe(took.count());
  }
  Persist(now);
  return changed;
}

bool RuleEngine::DependsOnTime() const { return depends_on_time_; }

bool RuleEngine::EvaluateRule(RuleState& rs, const std::string& source, rules::SnapshotIndex& index,
                              double now) {
  const Rule& rule = groups_[rs.group].rules[rs.rule];
  const auto& joins = index.Joins(rule.on);

  std::vector<const void*> columns;
  rule.expr.BindColumns(index, columns);
  EvalContext ctx;
  ctx.index = &index;
  ctx.now = now;
  ctx.columns = columns.data();
  std::vector<int32_t> hits;
  double out[rules::Expr::kBatch];
  for (size_t start = 0; start < joins.size(); start += rules::Expr::kBatch) {
    const int n = static_cast<int>(std::min<size_t>(rules::Expr::kBatch, joins.size() - start));
    rule.expr.EvalBatch(ctx, joins.data() + start, n, scratch_, out);
    for (int i = 0; i < n; ++i) {
      if (out[i] == out[i] && out[i] != 0) hits.push_back(static_cast<int32_t>(start + i));
    }
  }

  bool changed = false;
  AlertMap& alerts = rs.by_source[source];
  std::unordered_set<std::string> seen;
  const double for_seconds = Seconds(rule.for_duration);
  for (int32_t r : hits) {
    ctx.rows = joins[r].data();
    const Value value = rule.expr.EvalValue(ctx);
    ctx.value = &value;
    LabelSet labels = BaseLabels(rule, source, index, joins[r]);
    bool template_error = false;
    if (!rule.labels.empty()) {
      const LabelSet base = labels;
      ctx.labels = &base;
      for (const auto& [name, t] : rule.labels) {
        auto rendered = t.Render(ctx);
        template_error |= rendered.error;
        labels[name] = std::move(rendered.text);
      }
    }
    DropEmpty(labels);
    std::string fp = LabelFingerprint(labels);
    // Two rows with the same labels are one alert.
    if (!seen.insert(fp).second) continue;

    auto it = alerts.find(fp);
    bool is_new = false;
    if (it == alerts.end() || it->second.state == AlertState::kResolved ||
        it->second.state == AlertState::kInactive) {
      Alert fresh;
      fresh.labels = std::move(labels);
      fresh.fingerprint = fp;
      fresh.state = AlertState::kPending;
      fresh.active_at = now;
      it = alerts.insert_or_assign(fp, std::move(fresh)).first;
      is_new = true;
      changed = true;
    }
    Alert& a = it->second;
    const Alert before = a;
    a.last_true_at = now;
    a.value = rules::FormatValue(value, rule.expr.value_type());
    ctx.labels = &a.labels;
    LabelSet annotations;
    for (const auto& [name, t] : rule.annotations) {
      auto rendered = t.Render(ctx);
      template_error |= rendered.error;
      annotations[name] = std::move(rendered.text);
    }
    a.annotations = std::move(annotations);
    a.template_error = template_error;
    if (a.state == AlertState::kPending && now - a.active_at >= for_seconds) {
      a.state = AlertState::kFiring;
      a.starts_at = now;
      changed = true;
      spdlog::debug("alert {} {} firing", rule.alert, a.fingerprint);
    }
    // Persisted on transitions, not on every evaluation: $value and the
    // annotations change all the time (ages) and are re-rendered at the
    // first evaluation after a restart; what a restart needs is the state and
    // its times (and last_true_at, only when keep_firing_for is set).
    if (is_new || a.state != before.state || a.template_error != before.template_error ||
        rule.keep_firing_for.count() > 0) {
      MarkDirty(rs.key, a);
    }
    ctx.labels = nullptr;
    ctx.value = nullptr;
  }

  const double keep_seconds = Seconds(rule.keep_firing_for);
  for (auto it = alerts.begin(); it != alerts.end();) {
    Alert& a = it->second;
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    if (a.state == AlertState::kPending || a.state == AlertState::kInactive) {
      MarkDeleted(a.fingerprint);
      it = alerts.erase(it);
      changed = true;
      continue;
    }
    if (a.state == AlertState::kFiring && now - a.last_true_at > keep_seconds) {
      a.state = AlertState::kResolved;
      a.ends_at = now;
      MarkDirty(rs.key, a);
      changed = true;
      spdlog::debug("alert {} {} resolved", rule.alert, a.fingerprint);
    }
    ++it;
  }
  return changed;
}

bool RuleEngine::ResolveOrphans(const std::string& source, double now) {
  auto sit = orphans_.find(source);
  if (sit == orphans_.end()) return false;
  bool changed = false;
  for (auto& [key, alerts] : sit->second) {
    for (auto it = alerts.begin(); it != alerts.end();) {
      Alert& a = it->second;
      if (a.state == AlertState::kPending || a.state == AlertState::kInactive) {
        MarkDeleted(a.fingerprint);
        it = alerts.erase(it);
        changed = true;
        continue;
      }
      if (a.state == AlertState::kFiring) {
        a.state = AlertState::kResolved;
        a.ends_at = now;
        MarkDirty(key, a);
        changed = true;
      }
      ++it;
    }
  }
  return changed;
}

bool RuleEngine::SourceDown(const std::string& source, double down_since, double unreachable_for,
                            double now, const std::string& error) {
  last_now_ = now;
  bool changed = false;
  auto it = unreachable_.find(source);
  if (it == unreachable_.end() || it->second.state == AlertState::kResolved) {
    Alert a;
    a.labels = {{"alertname", "SourceUnreachable"}, {"source", source}, {"severity", "critical"}};
    a.fingerprint = LabelFingerprint(a.labels);
    a.state = AlertState::kPending;
    a.active_at = down_since;
    it = unreachable_.insert_or_assign(source, std::move(a)).first;
    changed = true;
  }
  Alert& a = it->second;
  const Alert before = a;
  a.last_true_at = now;
  a.value = FormatDurationSeconds(now - a.active_at);
  a.annotations["summary"] = "watch source " + source + " cannot be polled";
  if (!error.empty()) a.annotations["description"] = error;
  if (a.state == AlertState::kPending && now - a.active_at >= unreachable_for) {
    a.state = AlertState::kFiring;
    a.starts_at = now;
    changed = true;
  }
  if (changed || a.annotations != before.annotations) MarkDirty(kSourceUnreachableRule, a);
  Persist(now);
  return changed;
}

bool RuleEngine::SourceUp(const std::string& source, double now) {
  last_now_ = now;
  auto it = unreachable_.find(source);
  if (it == unreachable_.end()) return false;
  bool changed = false;
  Alert& a = it->second;
  if (a.state == AlertState::kPending || a.state == AlertState::kInactive) {
    MarkDeleted(a.fingerprint);
    unreachable_.erase(it);
    changed = true;
  } else if (a.state == AlertState::kFiring) {
    a.state = AlertState::kResolved;
    a.ends_at = now;
    MarkDirty(kSourceUnreachableRule, a);
    changed = true;
  }
  Persist(now);
  return changed;
}

std::vector<Alert> RuleEngine::Alerts() const {
  std::vector<Alert> out;
  for (const auto& rs : rules_) {
    for (const auto& [source, alerts] : rs.by_source) {
      for (const auto& [fp, a] : alerts) out.push_back(a);
    }
  }
  for (const auto& [source, by_rule] : orphans_) {
    for (const auto& [key, alerts] : by_rule) {
      for (const auto& [fp, a] : alerts) out.push_back(a);
    }
  }
  for (const auto& [source, a] : unreachable_) out.push_back(a);
  return out;
}

void RuleEngine::Forget(const std::vector<std::string>& fingerprints) {
  const std::set<std::string> forget(fingerprints.begin(), fingerprints.end());
  auto sweep = [&](AlertMap& alerts) {
    for (auto it = alerts.begin(); it != alerts.end();) {
      if (it->second.state == AlertState::kResolved && forget.count(it->first)) {
        MarkDeleted(it->first);
        it = alerts.erase(it);
      } else {
        ++it;
      }
    }
  };
  for (auto& rs : rules_) {
    for (auto& [source, alerts] : rs.by_source) sweep(alerts);
  }
  for (auto& [source, by_rule] : orphans_) {
    for (auto& [key, alerts] : by_rule) sweep(alerts);
  }
  for (auto it = unreachable_.begin(); it != unreachable_.end();) {
    if (it->second.state == AlertState::kResolved && forget.count(it->second.fingerprint)) {
      MarkDeleted(it->second.fingerprint);
      it = unreachable_.erase(it);
    } else {
      ++it;
    }
  }
  Persist(last_now_);
}

void RuleEngine::Replace(std::vector<RuleGroup> groups) {
  std::map<std::string, std::map<std::string, AlertMap>> old;
  for (auto& rs : rules_) old[rs.key] = std::move(rs.by_source);
  groups_ = std::move(groups);
  BuildRuleStates(std::move(old));
  // Keep the schedule of groups that still exist.
  std::set<std::string> names;
  for (const auto& g : groups_) names.insert(g.name);
  for (auto it = last_eval_.begin(); it != last_eval_.end();) {
    it = names.count(it->first.first) ? std::next(it) : last_eval_.erase(it);
  }
}

void RuleEngine::MarkDirty(const std::string& rule, const Alert& alert) {
  if (!store_) return;
  deleted_.erase(alert.fingerprint);
  dirty_[alert.fingerprint] = StoredAlert{rule, alert};
}

void RuleEngine::MarkDeleted(const std::string& fingerprint) {
  if (!store_) return;
  dirty_.erase(fingerprint);
  deleted_.insert(fingerprint);
}

constexpr double kPersistRetrySeconds = 1;

void RuleEngine::Persist(double now) {
  if (!store_ || (dirty_.empty() && deleted_.empty())) return;
  if (now < persist_retry_at_) return;
  std::vector<StoredAlert> upserts;
  upserts.reserve(dirty_.size());
  for (auto& [fp, a] : dirty_) upserts.push_back(a);
  std::vector<std::string> deletes(deleted_.begin(), deleted_.end());
  if (auto s = store_->Apply(upserts, deletes, now); !s.ok()) {
    // Kept for the next call: degrade, don't die.
    metrics_.CountStateStoreWriteError();
    persist_retry_at_ = now + kPersistRetrySeconds;
    int held_back = 0;
    if (persist_log_.Allow(&held_back)) {
      spdlog::warn("persisting alerts (kept in memory, retried every round): {} ({} more since)",
                   s.message(), held_back);
    }
    return;
  }
  persist_log_.Reset();
  persist_retry_at_ = 0;
  dirty_.clear();
  deleted_.clear();
}

}  // namespace linkwatch
