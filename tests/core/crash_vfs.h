// CrashVfs: a SQLite VFS for tests that simulates a power cut for the files
// SQLite writes itself (the state store, its WAL), the way SQLite's own
// crash-test VFS does. It wraps the default VFS and remembers each file's
// content as of its last xSync. Cut() is the moment the power goes: every
// later write, truncate, sync or delete fails, as on a machine that is off,
// so closing the connections afterwards changes nothing on disk. Restore()
// is the reboot: every file goes back to its last synced content (a file
// never synced is removed) and the WAL index (`-shm`, shared memory) is
// dropped.
//
// Registered under kName while alive (as the default VFS when asked, so
// that code opening its own connections uses it); one at a time. Content is
// kept in memory: keep test databases small. Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/core/status.h"

struct sqlite3_vfs;

namespace linkwatch::faults {

class CrashVfs {
 public:
  static constexpr const char* kName = "linkwatch-crash";

  explicit CrashVfs(bool make_default);
  ~CrashVfs();
  CrashVfs(const CrashVfs&) = delete;
  CrashVfs& operator=(const CrashVfs&) = delete;

  // The power goes: from now on nothing reaches the files.
  void Cut();
  // The reboot after Cut(): files back to their last synced content. Call
  // once every connection is closed.
  Status Restore();
  // How many xSync calls reached the files (tests show that a commit synced).
  int syncs() const { return syncs_.load(); }

  // Used by the VFS callbacks.
  struct Hooks;

 private:
  friend struct Hooks;
  std::unique_ptr<sqlite3_vfs> vfs_;
  sqlite3_vfs* base_ = nullptr;
  std::atomic<bool> cut_{false};
  std::atomic<int> syncs_{0};
  std::mutex mu_;
  // Path -> content as of the last sync; nullopt: must not exist.
  std::map<std::string, std::optional<std::string>> durable_;
  std::map<std::string, bool> main_db_;  // paths opened as main databases
};

}  // namespace linkwatch::faults
