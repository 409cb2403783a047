// LocalSource: a StateSource over a SQLite file holding the six state tables
// (linkwatch's own state store, or a file other tools write). Change detection
// uses PRAGMA data_version on a connection kept open between polls, which
// costs microseconds, so the watcher can check it every few tens of
// milliseconds. Not thread-safe: owned and used by the watcher thread.
#pragma once

#include <memory>
#include <string>

#include "agent/state/db.h"
#include "agent/watch/state_source.h"

namespace linkwatch::watch {

class LocalSource final : public StateSource {
 public:
  LocalSource(std::string name, std::string path);

  const std::string& name() const override { return name_; }
  Result<std::shared_ptr<const state::Snapshot>> Poll() override;
  bool Changed() override;

 private:
  Status EnsureOpen();

  std::string name_;
  std::string path_;
  std::unique_ptr<state::Db> db_;
  int64_t last_version_ = -1;
};

}  // namespace linkwatch::watch
