// StateSource: where the watcher reads the six state tables from — the local
// SQLite state store (or any SQLite file holding them) or, in a later issue, a
// Dataverse environment over its Web API. A source is used from the watcher
// thread only; implementations need not be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/core/clock.h"
#include "agent/core/status.h"
#include "agent/state/snapshot.h"

namespace linkwatch::watch {

class StateSource {
 public:
  virtual ~StateSource() = default;
  virtual const std::string& name() const = 0;
  // Reads the six tables. A failure makes the source unreachable until a
  // later poll succeeds.
  virtual Result<std::shared_ptr<const state::Snapshot>> Poll() = 0;
  // Cheap check between polls: true when the data may have changed since the
  // last successful Poll. Sources that cannot tell return false and are
  // polled every watch.interval only.
  virtual bool Changed() = 0;
  // Asks the source to call `wake` (from any thread) whenever Changed() may
  // have turned true, so that the watcher need not check it on a timer.
  // Returns whether the source does so now; while it returns false the
  // watcher checks Changed() every few tens of milliseconds. Called every
  // cycle (a source may start notifying later, or stop). False by default.
  virtual bool NotifyChanges(const std::function<void()>& wake) {
    (void)wake;
    return false;
  }
  // What check-config, `run` and a reload refuse before starting, such as a
  // watched file that is there but is not SQLite (a missing one is only
  // unreachable until it appears). Reads only. Ok by default.
  virtual Status CheckReadable() const { return Status::Ok(); }
  // The agent's own writer of the state store (the outbox's connection,
  // which writes only tables no source reads): `others_version` answers that
  // connection's PRAGMA data_version, which changes only when some other
  // connection commits. A source over the state store uses it to tell the
  // agent's own commits (a delivered notification) from changes to the
  // data, and polls only for those. Ignored by default.
  using VersionFn = std::function<std::optional<int64_t>()>;
  virtual void SetOwnWriter(VersionFn others_version) { (void)others_version; }
  // The watcher's poll interval (watch.interval): set before the first
  // Poll and again on every reload. Ignored by default.
  virtual void SetPollInterval(Duration interval) { (void)interval; }
  // Makes a Poll in progress on another thread give up soon (shutdown).
  // Thread-safe; nothing by default.
  virtual void Stop() {}
};

}  // namespace linkwatch::watch
