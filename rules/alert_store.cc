#include "rules/alert_store.h"

#include <nlohmann/json.hpp>

#include "agent/state/db.h"

namespace linkwatch {
namespace {

std::string ToJson(const LabelSet& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j.dump();
}

bool FromJson(std::string_view text, LabelSet& out) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return false;
    out[k] = v.get<std::string>();
  }
  return true;
}

AlertState StateFromName(std::string_view s) {
  if (s == "pending") return AlertState::kPending;
  if (s == "firing") return AlertState::kFiring;
  if (s == "resolved") return AlertState::kResolved;
  return AlertState::kInactive;
}

}  // namespace

Result<std::vector<StoredAlert>> AlertStore::LoadAll() {
  auto st = db_.Prepare(
      "SELECT rule, labels, annotations, state, active_at, starts_at, ends_at, last_true_at, "
      "value, template_error FROM linkwatch_alert ORDER BY fingerprint");
  if (!st) return st.status().WithContext("loading alerts");
  std::vector<StoredAlert> out;
  while (st->Step()) {
    StoredAlert a;
    a.rule = st->Text(0);
    if (!FromJson(st->TextView(1), a.alert.labels) ||
        !FromJson(st->TextView(2), a.alert.annotations)) {
      return Status::Error("loading alerts: malformed labels or annotations of rule " + a.rule);
    }
    a.alert.state = StateFromName(st->TextView(3));
    if (a.alert.state == AlertState::kInactive) continue;
    a.alert.active_at = st->IsNull(4) ? 0 : st->Real(4);
    a.alert.starts_at = st->IsNull(5) ? 0 : st->Real(5);
    a.alert.ends_at = st->IsNull(6) ? 0 : st->Real(6);
    a.alert.last_true_at = st->IsNull(7) ? 0 : st->Real(7);
    a.alert.value = st->IsNull(8) ? "" : st->Text(8);
    a.alert.template_error = !st->IsNull(9) && st->Int(9) != 0;
    a.alert.fingerprint = LabelFingerprint(a.alert.labels);
    out.push_back(std::move(a));
  }
  if (!st->status().ok()) return st->status().WithContext("loading alerts");
  return out;
}

Status AlertStore::Apply(const std::vector<StoredAlert>& upserts,
                         const std::vector<std::string>& deletes, double now) {
  if (upserts.empty() && deletes.empty()) return Status::Ok();
  state::Transaction tx(db_);
  if (!tx.status().ok()) return tx.status().WithContext("saving alerts");
  if (!upserts.empty()) {
    state::Statement* st = db_.Cached(
        "INSERT INTO linkwatch_alert (fingerprint, rule, labels, annotations, state, active_at, "
        "starts_at, ends_at, last_true_at, value, updated_at, template_error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (fingerprint) DO UPDATE SET rule = excluded.rule, labels = excluded.labels, "
        "annotations = excluded.annotations, state = excluded.state, "
        "active_at = excluded.active_at, starts_at = excluded.starts_at, "
        "ends_at = excluded.ends_at, last_true_at = excluded.last_true_at, "
        "value = excluded.value, updated_at = excluded.updated_at, "
        "template_error = excluded.template_error");
    if (!st) return Status::Error("saving alerts: " + db_.LastError());
    for (const auto& u : upserts) {
      const Alert& a = u.alert;
      st->Reset();
      st->Bind(1, a.fingerprint)
          .Bind(2, u.rule)
          .Bind(3, ToJson(a.labels))
          .Bind(4, ToJson(a.annotations))
          .Bind(5, AlertStateName(a.state))
          .Bind(6, a.active_at)
          .Bind(7, a.starts_at)
          .Bind(8, a.ends_at)
          .Bind(9, a.last_true_at)
          .Bind(10, a.value)
          .Bind(11, now)
          .Bind(12, a.template_error ? 1 : 0);
      if (auto s = st->Run(); !s.ok()) return s.WithContext("saving alert " + a.fingerprint);
    }
  }
  if (!deletes.empty()) {
    state::Statement* st = db_.Cached("DELETE FROM linkwatch_alert WHERE fingerprint = ?");
    if (!st) return Status::Error("deleting alerts: " + db_.LastError());
    for (const auto& fp : deletes) {
      st->Reset();
      st->Bind(1, fp);
      if (auto s = st->Run(); !s.ok()) return s.WithContext("deleting alert " + fp);
    }
  }
  return tx.Commit().WithContext("saving alerts");
}

}  // namespace linkwatch
