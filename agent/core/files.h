// Durable file operations: the one home of write-to-temp, fsync, rename and
// directory fsync, so that every file linkwatch replaces (lake partitions,
// model.json) is either the old or the new version after a crash, never a
// mix. Plain functions over paths; thread-safe as the file system is.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/core/status.h"

namespace linkwatch {

// Whether `name` can be one path component of a folder linkwatch writes
// (a lake's table folder): not empty, not starting with '.', no '/', '\\'
// or NUL. Table names become folder names, so "..", "a/b" or ".x" would write
// outside the lake or clash with its hidden temporaries.
bool IsSafeFileName(std::string_view name);

// Writes `content` to `path` + ".tmp-<pid>", fsyncs it, renames it over
// `path` and fsyncs the folder.
Status WriteFileAtomic(const std::string& path, std::string_view content);
// fsyncs a file or folder.
Status Fsync(const std::string& path);
// The whole file; an error names the path.
Result<std::string> ReadFile(const std::string& path);

// An open file for appending or writing, closed by the destructor.
class File {
 public:
  enum class Mode { kCreateTruncate, kAppend, kReadWrite };
  static Result<File> Open(const std::string& path, Mode mode);
  File(File&& o) noexcept;
  File& operator=(File&& o) noexcept;
  ~File();

  Status Write(std::string_view data);
  // Writes the pieces in order (writev, up to IOV_MAX pieces per call).
  Status WritePieces(const std::vector<std::string_view>& pieces);
  Status Sync();
  Status Truncate(uint64_t size);
  Result<uint64_t> Size() const;
  const std::string& path() const { return path_; }

 private:
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
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

}  // namespace linkwatch
