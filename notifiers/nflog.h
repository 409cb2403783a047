// NotificationLog: what each (receiver, group) was last sent: the firing
// and resolved alerts (fingerprints) and when (Alertmanager's nflog), kept in
// linkwatch_nflog of the state store. The dispatcher asks Query whether a
// group needs a notification (NeedsUpdate, Alertmanager's DedupStage), writes
// Log inside the outbox's transaction that queues the notification, and
// Commits it in memory once that transaction committed. So a restart neither
// re-sends every firing group nor forgets repeat_interval.
//
// Not thread-safe: the dispatcher's thread only.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "agent/core/clock.h"
#include "agent/core/status.h"

namespace linkwatch::state {
class Db;
}

namespace linkwatch::notifiers {

class NotificationLog {
 public:
  struct Entry {
    std::set<std::string> firing;
    std::set<std::string> resolved;
    double sent_at = 0;  // epoch seconds
  };

  // Drops entries sent before `cutoff` and reads the rest.
  Status Load(state::Db& db, TimePoint cutoff);
  const Entry* Query(const std::string& receiver, const std::string& group_key) const;
  // Writes the entry through `db` (inside the caller's transaction).
  static Status Log(state::Db& db, const std::string& receiver, const std::string& group_key,
                    const Entry& entry);
  // Records in memory what Log wrote, once its transaction committed.
  void Commit(const std::string& receiver, const std::string& group_key, Entry entry);

  // Alertmanager's DedupStage.needsUpdate: whether a group with these
  // alerts needs a notification, given what was last sent (`last`, null if
  // nothing).
  static bool NeedsUpdate(const Entry* last, const std::set<std::string>& firing,
                          const std::set<std::string>& resolved, bool send_resolved,
                          Duration repeat_interval, TimePoint now);

 private:
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

}  // namespace linkwatch::notifiers
