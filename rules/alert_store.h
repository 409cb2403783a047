// AlertStore: the rule engine's alerts persisted in the state store's
// linkwatch_alert table (agent/state/state_store.cc), so that a restart
// neither restarts `for` (pending alerts keep activeAt), nor forgets a firing
// alert, nor loses a resolved one whose notification was not yet queued
// (resolved alerts stay until the engine forgets them).
//
// Borrows a Db, which must outlive it. Not thread-safe: used from the thread
// that owns the engine (and the Db connection).
#pragma once

#include <string>
#include <vector>

#include "agent/core/status.h"
#include "rules/alert.h"

namespace linkwatch {

namespace state {
class Db;
}

// An alert and the rule that produced it ("group/alertname/n", or
// "builtin/SourceUnreachable").
struct StoredAlert {
  std::string rule;
  Alert alert;
};

class AlertStore {
 public:
  explicit AlertStore(state::Db& db) : db_(db) {}

  // Every stored alert (pending, firing, resolved), fingerprints recomputed
  // from the labels.
  Result<std::vector<StoredAlert>> LoadAll();
  // Writes `upserts` and removes `deletes` (fingerprints) in one transaction.
  // `now` (epoch seconds) is recorded as updated_at.
  Status Apply(const std::vector<StoredAlert>& upserts, const std::vector<std::string>& deletes,
               double now);

 private:
  state::Db& db_;
};

}  // namespace linkwatch
