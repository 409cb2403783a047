#include "agent/core/files.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace linkwatch {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  return Status::Error(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

bool IsSafeFileName(std::string_view name) {
  if (name.empty() || name[0] == '.') return false;
  for (char c : name) {
    if (c == '/' || c == '\\' || c == '\0') return false;
  }
  return true;
}

Result<File> File::Open(const std::string& path, Mode mode) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case Mode::kCreateTruncate:
      flags |= O_WRONLY | O_CREAT | O_TRUNC;
      break;
    case Mode::kAppend:
      flags |= O_WRONLY | O_CREAT | O_APPEND;
      break;
    case Mode::kReadWrite:
      flags |= O_RDWR | O_CREAT;
      break;
  }
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return Errno("cannot open", path);
  return File(fd, path);
}

File::File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}
File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

Status File::Write(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path_);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status File::WritePieces(const std::vector<std::string_view>& pieces) {
  std::vector<iovec> iov;
  iov.reserve(std::min<size_t>(pieces.size(), IOV_MAX));
  size_t i = 0;
  while (i < pieces.size()) {
    iov.clear();
    size_t total = 0;
    for (; i < pieces.size() && iov.size() < IOV_MAX; ++i) {
      if (pieces[i].empty()) continue;
      iov.push_back({const_cast<char*>(pieces[i].data()), pieces[i].size()});
      total += pieces[i].size();
    }
    size_t done = 0;
    size_t first = 0;
    while (done < total) {
      const ssize_t n = ::writev(fd_, iov.data() + first, static_cast<int>(iov.size() - first));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("cannot write", path_);
      }
      done += static_cast<size_t>(n);
      // Skip what was written (a short write can end inside a piece).
      size_t left = static_cast<size_t>(n);
      while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (first < iov.size()) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
  }
  return Status::Ok();
}

Status File::Sync() { return ::fdatasync(fd_) == 0 ? Status::Ok() : Errno("cannot sync", path_); }

Status File::Truncate(uint64_t size) {
  return ::ftruncate(fd_, static_cast<off_t>(size)) == 0 ? Status::Ok()
                                                         : Errno("cannot truncate", path_);
}

Result<uint64_t> File::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Errno("cannot stat", path_);
  return static_cast<uint64_t>(st.st_size);
}

Status Fsync(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Errno("cannot sync", path);
}

Status WriteFileAtomic(const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    auto f = File::Open(tmp, File::Mode::kCreateTruncate);
    if (!f) return f.status();
    if (auto s = f->Write(content); !s.ok()) return s;
    if (auto s = f->Sync(); !s.ok()) return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const Status s = Errno("cannot rename to", path);
    ::unlink(tmp.c_str());
    return s;
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return Fsync(dir.empty() ? "." : dir);
}

Result<std::string> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  std::string out;
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const Status s = Errno("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<MappedFile> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const Status s = Errno("cannot stat", path);
    ::close(fd);
    return s;
  }
  if (st.st_size == 0) {
    ::close(fd);
    return MappedFile(nullptr, 0);
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) return Errno("cannot map", path);
  return MappedFile(p, static_cast<size_t>(st.st_size));
}

MappedFile::MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) {
  o.data_ = nullptr;
  o.size_ = 0;
}
MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(data_, size_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}
MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace linkwatch
