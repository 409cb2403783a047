// FaultInjectionEnv: an Env for tests that wraps another (the POSIX one) and
// can make the file layer fail the way disks and power supplies do, after
// leveldb's FaultInjectionTestEnv:
//   * FailNext(op, path_part): the next such operation on a path containing
//     `path_part` fails (a write writes nothing; with `keep`, a write is cut
//     short after that many bytes, as on a full disk);
//   * PowerCut(): what a power loss does to what was not made durable:
//     every file written through this Env loses what was appended since its
//     last Sync() (a file never synced loses everything), and every file or
//     folder created, renamed or removed since the last SyncDir() of its
//     folder is undone (a replaced file comes back with its old content, a
//     removed one comes back). Then the Env forgets what it tracked, as a
//     machine that boots again.
// Files are real files on disk: a test "restarts" by opening the same paths
// again after PowerCut(). Removed and overwritten files are kept in memory
// until their folder is synced, so keep test files small.
//
// Thread-safe (one mutex); the files it opens must be closed before
// PowerCut().
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/env.h"

namespace linkwatch::faults {

class FaultInjectionEnv final : public Env {
 public:
  // kOpenRead: OpenSequential (a reader streaming a file) fails.
  enum class Op { kWrite, kSync, kRename, kSyncDir, kOpenRead };

  explicit FaultInjectionEnv(Env& base = Env::Default()) : base_(base) {}

  // The next `op` on a path containing `path_part` fails; a write keeps its
  // first `keep` bytes when given (a short write).
  void FailNext(Op op, std::string path_part, std::optional<size_t> keep = std::nullopt);
  // How many injected failures happened.
  int failures() const;
  // Simulates a power loss (see above).
  Status PowerCut();
  // Folder operations not yet made durable by a SyncDir (for tests' messages).
  size_t PendingDirOps() const;

  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     WriteMode mode) override;
  Result<std::string> ReadFile(const std::string& path) override { return base_.ReadFile(path); }
  Result<std::unique_ptr<SequentialFile>> OpenSequential(const std::string& path) override;
  Result<MappedFile> MapFile(const std::string& path) override { return base_.MapFile(path); }
  Result<std::optional<FileInfo>> Stat(const std::string& path) override {
    return base_.Stat(path);
  }
  Result<std::vector<DirEntry>> ListDir(const std::string& dir) override {
    return base_.ListDir(dir);
  }
  Status CreateDirs(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status RemoveFile(const std::string& path) override;
  Status SyncDir(const std::string& dir) override;
  bool IsWritable(const std::string& dir) override { return base_.IsWritable(dir); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

 private:
  class File;
  friend class File;
  struct Fault {
    Op op;
    std::string path_part;
    std::optional<size_t> keep;
  };
  // One folder entry changed since its folder was last synced.
  struct DirOp {
    enum Kind { kCreate, kMkdir, kRename, kRemove } kind;
    std::string path;  // created, removed, or the rename's target
    std::string from;  // the rename's source
    // The content `path` had before it was replaced or removed.
    std::optional<std::string> old_content;
  };

  // mu_ held: the fault for `op` on `path`, consumed, if one is armed.
  std::optional<Fault> TakeFault(Op op, const std::string& path);
  // mu_ held: notes a new file (and its folder entry) that holds nothing
  // durable yet.
  void NoteCreated(const std::string& path);
  void Synced(const std::string& path, uint64_t size);

  Env& base_;
  mutable std::mutex mu_;
  std::vector<Fault> faults_;
  int failures_ = 0;
  // Files written through this Env: the length that survives a power cut.
  std::map<std::string, uint64_t> synced_size_;
  std::vector<DirOp> dir_ops_;  // in the order they happened
};

}  // namespace linkwatch::faults
