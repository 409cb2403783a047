#include "notifiers/nflog.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/state/db.h"

namespace linkwatch::notifiers {
namespace {

bool Subset(const std::set<std::string>& sub, const std::set<std::string>& of) {
  return std::includes(of.begin(), of.end(), sub.begin(), sub.end());
}

std::string ToJsonArray(const std::set<std::string>& s) { return nlohmann::json(s).dump(); }

std::set<std::string> FromJsonArray(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::set<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.insert(v.get<std::string>());
  }
  return out;
}

}  // namespace

Status NotificationLog::Load(state::Db& db, TimePoint cutoff) {
  auto prune = db.Prepare("DELETE FROM linkwatch_nflog WHERE sent_at < ?");
  if (!prune.ok()) return prune.status();
  if (auto st = prune->Bind(1, ToEpochSeconds(cutoff)).Run(); !st.ok()) return st;
  auto st =
      db.Prepare("SELECT receiver, group_key, firing, resolved, sent_at FROM linkwatch_nflog");
  if (!st.ok()) return st.status();
  while (st->Step()) {
    Entry e;
    e.firing = FromJsonArray(st->Text(2));
    e.resolved = FromJsonArray(st->Text(3));
    e.sent_at = st->Real(4);
    entries_[{st->Text(0), st->Text(1)}] = std::move(e);
  }
  return st->status();
}

const NotificationLog::Entry* NotificationLog::Query(const std::string& receiver,
                                                     const std::string& group_key) const {
  auto it = entries_.find({receiver, group_key});
  return it == entries_.end() ? nullptr : &it->second;
}

Status NotificationLog::Log(state::Db& db, const std::string& receiver,
                            const std::string& group_key, const Entry& entry) {
  state::Statement* st = db.Cached(
      "INSERT OR REPLACE INTO linkwatch_nflog (receiver, group_key, firing, resolved, sent_at) "
      "VALUES (?, ?, ?, ?, ?)");
  if (st == nullptr) return Status::Error("notification log: " + db.LastError());
  return st->Bind(1, receiver)
      .Bind(2, group_key)
      .Bind(3, ToJsonArray(entry.firing))
      .Bind(4, ToJsonArray(entry.resolved))
      .Bind(5, entry.sent_at)
      .Run()
      .WithContext("writing the notification log");
}

void NotificationLog::Commit(const std::string& receiver, const std::string& group_key,
                             Entry entry) {
  entries_[{receiver, group_key}] = std::move(entry);
}

bool NotificationLog::NeedsUpdate(const Entry* last, const std::set<std::string>& firing,
                                  const std::set<std::string>& resolved, bool send_resolved,
                                  Duration repeat_interval, TimePoint now) {
  if (last == nullptr) return !firing.empty();
  if (!Subset(firing, last->firing)) return true;
  if (firing.empty()) return !last->firing.empty();
  if (send_resolved && !Subset(resolved, last->resolved)) return true;
  return now - FromEpochSeconds(last->sent_at) >= repeat_interval;
}

}  // namespace linkwatch::notifiers
