// StoreHealth: whether linkwatch's own state store is still there. The agent
// keeps long-lived connections to state.db (alert state, outbox, sync core);
// when the file is deleted or replaced under them they would go on reading
// and writing the unlinked file, and everything written would be lost at the
// next start. Every write connection refuses to commit then (state::Db); this
// class makes the loss visible: readiness fails with the reason, the error is
// logged (once, then at most every minute), and linkwatch_state_store_up is 0.
//
// The loss is final for this process: it does not reopen a file that appears
// at the path again, because the old connections still share the old
// state.db-wal and -shm at that path, and a new connection would apply the
// old file's WAL to the new one (docs/operations.md, "State store lost").
//
// Check() is called from the agent's main loop; up() and error() from any
// thread (HTTP handlers). Thread-safe.
#pragma once

#include <mutex>
#include <string>

#include "agent/core/log_throttle.h"

namespace linkwatch {
namespace state {
class Db;
}
}  // namespace linkwatch

namespace linkwatch::watch {

class WatchMetrics;

class StoreHealth {
 public:
  // Borrows `db` (a connection to the store, used from the calling thread
  // only) and `metrics`.
  StoreHealth(state::Db& db, WatchMetrics& metrics);

  // One stat() of the path; call it every loop round.
  void Check();
  bool up() const;
  // Why the store is not up ("" while it is).
  std::string error() const;

 private:
  state::Db& db_;
  WatchMetrics& metrics_;
  LogThrottle log_;
  mutable std::mutex mu_;
  std::string error_;
};

}  // namespace linkwatch::watch
