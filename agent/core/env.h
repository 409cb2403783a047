// Env: the file operations linkwatch does on the files it writes itself
// (lake partitions, model.json, metadata files, the lock of a lake folder)
// and on the files whose identity it checks (the state store), behind one
// small interface, like leveldb's Env. Production code uses the POSIX one,
// Env::Default(); tests wrap it to fail a write, cut it short, or simulate
// a power cut that drops everything not fsynced (tests/core/
// fault_injection_env.h). Whatever writes files takes an `Env&`, as
// whatever waits takes a `Clock&`.
//
// Durability is spelled out, as on a real disk: bytes written to a
// WritableFile survive a power cut only after its Sync(); a file created,
// renamed or removed stays so only after SyncDir() of its folder.
//
// An Env is thread-safe and outlives what it opened; a WritableFile is used
// by one thread and closed by its destructor.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/status.h"

namespace linkwatch {

// What stat() says about a path: which file it is (device, inode) and what
// it looks like now (size, modification time).
struct FileInfo {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool is_dir = false;
  bool is_regular = false;
};

// One entry of a folder listing.
struct DirEntry {
  std::string name;
  bool is_regular = false;  // a regular file (not a folder, link, ...)
};

// A file open for writing. Append writes at the end (kAppend) or at the
// current offset (the others: after open, the start).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Writes the pieces in order, as one write where the system allows.
  virtual Status AppendPieces(const std::vector<std::string_view>& pieces) = 0;
  // Makes the bytes written so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() const = 0;
  virtual const std::string& path() const = 0;
};

// A file open for reading from its start, a block at a time: how a reader
// streams a file it does not want whole in memory (a lake partition).
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to `n` bytes into `buf`: how many were read, 0 at the end of
  // the file. An error names the path.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

// A file mapped read-only into memory (empty files map to an empty view).
class MappedFile {
 public:
  static Result<MappedFile> Open(const std::string& path);
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  ~MappedFile();
  std::string_view view() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void* data_ = nullptr;
  size_t size_ = 0;
};

// An exclusive lock on a file, released by the destructor.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  enum class WriteMode {
    kCreateTruncate,  // created or emptied
    kAppend,          // created if missing; every write at the end
    kReadWrite,       // created if missing; content kept
  };

  virtual ~Env() = default;
  // The POSIX file system; lives as long as the process.
  static Env& Default();

  virtual Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             WriteMode mode) = 0;
  // The whole file; an error names the path.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Opens a file to read it from its start; an error names the path.
  virtual Result<std::unique_ptr<SequentialFile>> OpenSequential(const std::string& path) = 0;
  virtual Result<MappedFile> MapFile(const std::string& path) = 0;
  // nullopt when nothing is at `path`; an error for any other failure.
  virtual Result<std::optional<FileInfo>> Stat(const std::string& path) = 0;
  // The entries of a folder (without "." and ".."), in no order.
  virtual Result<std::vector<DirEntry>> ListDir(const std::string& dir) = 0;
  // Creates `path` and the folders above it that are missing.
  virtual Status CreateDirs(const std::string& path) = 0;
  // Renames `from` over `to` atomically (same file system).
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Removes a file; ok when it does not exist.
  virtual Status RemoveFile(const std::string& path) = 0;
  // Makes the folder's entries (files created, renamed, removed) durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Whether this process may create files in `dir`.
  virtual bool IsWritable(const std::string& dir) = 0;
  // Creates `path` if needed and takes an exclusive lock on it without
  // waiting; an error with reason "locked" when another holds it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
};

}  // namespace linkwatch
