// LocalSource: a StateSource over a SQLite file holding the six state tables
// (linkwatch's own state store, or a file other tools write). Change detection
// uses PRAGMA data_version on a connection kept open between polls, which
// costs microseconds; the watcher checks it when inotify says the file, its
// -wal or -journal was touched (FileWatch), so an idle agent does not wake
// on a timer.
//
// The file at the path may be replaced (`mv new.db watched.db`, `rm` then
// `cp`) or deleted while watched. Both Changed() and Poll() compare the path's
// device/inode with the open connection's (state::Db::CheckFile): a replaced
// file is reopened and polled at once, and while no file is there Poll fails,
// so the source is unreachable (SourceUnreachable fires) instead of reading
// the unlinked file forever. Not thread-safe: owned and used by the watcher
// thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/core/file_watch.h"
#include "agent/state/db.h"
#include "agent/state/state_store.h"
#include "agent/watch/state_source.h"

namespace linkwatch::watch {

class LocalSource final : public StateSource {
 public:
  // `state_store`: the path is the agent's own state store, which is
  // checked as such (CheckReadable leaves it alone).
  LocalSource(std::string name, std::string path, bool state_store = false);

  const std::string& name() const override { return name_; }
  Result<std::shared_ptr<const state::Snapshot>> Poll() override;
  bool Changed() override;
  bool NotifyChanges(const std::function<void()>& wake) override;
  Status CheckReadable() const override;
  // Only for the state store (state_store = true); other files ignore it.
  void SetOwnWriter(VersionFn others_version) override;

 private:
  Status EnsureOpen();
  Result<std::shared_ptr<const state::Snapshot>> PollOpen();

  std::string name_;
  std::string path_;
  bool state_store_ = false;
  std::unique_ptr<state::Db> db_;
  state::SnapshotPlan plan_;  // db_'s (a new connection starts a new one)
  int64_t last_version_ = -1;
  // The own writer's view (StateSource::SetOwnWriter), read before the last
  // poll: while it stays the same, no connection but the own writer has
  // committed since, and a changed data_version is the own writer's commit.
  VersionFn own_writer_;
  std::optional<int64_t> own_writer_version_;
  // After a failed poll: the file at the path as it was then (nullopt when
  // there was none). Changed() asks for a poll as soon as it differs (a file
  // appears again, a copy grows), and not on every tick while it stays as it
  // was.
  bool failed_ = false;
  std::optional<state::FileIdentity> failed_file_;
  std::unique_ptr<FileWatch> watch_;
  bool watch_failure_logged_ = false;
};

}  // namespace linkwatch::watch
