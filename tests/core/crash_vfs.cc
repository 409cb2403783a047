#include "tests/core/crash_vfs.h"

#include <sqlite3.h>
#include <unistd.h>

#include <fstream>
#include <new>
#include <sstream>

namespace linkwatch::faults {
namespace {

// A file opened through the VFS: our sqlite3_file header, then the default
// VFS's own file object (szOsFile bytes) right after it.
struct CrashFile {
  sqlite3_file base;
  CrashVfs* owner;
  std::string* path;  // null: a temporary file without a name (not tracked)
  sqlite3_file* real;
};

constexpr size_t kHeader = (sizeof(CrashFile) + 15) & ~size_t{15};

CrashFile* Of(sqlite3_file* f) { return reinterpret_cast<CrashFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Of(f)->real; }

std::optional<std::string> ReadAll(sqlite3_file* real) {
  sqlite3_int64 size = 0;
  if (real->pMethods->xFileSize(real, &size) != SQLITE_OK) return std::nullopt;
  std::string out(static_cast<size_t>(size), '\0');
  if (size > 0 && real->pMethods->xRead(real, out.data(), static_cast<int>(size), 0) != SQLITE_OK) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

struct CrashVfs::Hooks {
  static CrashVfs* Owner(sqlite3_file* f) { return Of(f)->owner; }
  static bool IsCut(sqlite3_file* f) { return Owner(f)->cut_.load(); }

  static int Close(sqlite3_file* f) {
    sqlite3_file* real = Real(f);
    const int rc = real->pMethods ? real->pMethods->xClose(real) : SQLITE_OK;
    delete Of(f)->path;
    Of(f)->path = nullptr;
    return rc;
  }
  static int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
    return Real(f)->pMethods->xRead(Real(f), buf, n, off);
  }
  static int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
    if (IsCut(f)) return SQLITE_IOERR_WRITE;
    return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
  }
  static int Truncate(sqlite3_file* f, sqlite3_int64 size) {
    if (IsCut(f)) return SQLITE_IOERR_TRUNCATE;
    return Real(f)->pMethods->xTruncate(Real(f), size);
  }
  static int Sync(sqlite3_file* f, int flags) {
    if (IsCut(f)) return SQLITE_IOERR_FSYNC;
    const int rc = Real(f)->pMethods->xSync(Real(f), flags);
    if (rc != SQLITE_OK || Of(f)->path == nullptr) return rc;
    CrashVfs* owner = Owner(f);
    std::lock_guard<std::mutex> lock(owner->mu_);
    ++owner->syncs_;
    owner->durable_[*Of(f)->path] = ReadAll(Real(f));
    return rc;
  }
  static int FileSize(sqlite3_file* f, sqlite3_int64* size) {
    return Real(f)->pMethods->xFileSize(Real(f), size);
  }
  static int Lock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
  static int Unlock(sqlite3_file* f, int level) {
    return Real(f)->pMethods->xUnlock(Real(f), level);
  }
  static int CheckReservedLock(sqlite3_file* f, int* out) {
    return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
  }
  static int FileControl(sqlite3_file* f, int op, void* arg) {
    return Real(f)->pMethods->xFileControl(Real(f), op, arg);
  }
  static int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
  static int DeviceCharacteristics(sqlite3_file* f) {
    return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
  }
  static int ShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** p) {
    return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, p);
  }
  static int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
    return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
  }
  static void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
  static int ShmUnmap(sqlite3_file* f, int delete_flag) {
    return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
  }
  static int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** p) {
    return Real(f)->pMethods->xFetch(Real(f), off, n, p);
  }
  static int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
    return Real(f)->pMethods->xUnfetch(Real(f), off, p);
  }

  static const sqlite3_io_methods kMethods;

  static int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags) {
    auto* owner = static_cast<CrashVfs*>(vfs->pAppData);
    CrashFile* f = Of(file);
    f->base.pMethods = nullptr;
    f->owner = owner;
    f->path = nullptr;
    f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kHeader);
    if (name != nullptr) {
      std::lock_guard<std::mutex> lock(owner->mu_);
      const std::string path = name;
      if (!owner->durable_.count(path)) {
        // First seen: what is on disk now was there before the test's cut.
        std::ifstream in(path, std::ios::binary);
        if (in) {
          std::ostringstream content;
          content << in.rdbuf();
          owner->durable_[path] = content.str();
        } else {
          owner->durable_[path] = std::nullopt;
        }
      }
      if (flags & SQLITE_OPEN_MAIN_DB) owner->main_db_[path] = true;
    }
    const int rc = owner->base_->xOpen(owner->base_, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) return rc;
    if (name != nullptr) f->path = new std::string(name);
    f->base.pMethods = &kMethods;
    return SQLITE_OK;
  }

  static int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
    auto* owner = static_cast<CrashVfs*>(vfs->pAppData);
    if (owner->cut_) return SQLITE_IOERR_DELETE;
    const int rc = owner->base_->xDelete(owner->base_, name, sync_dir);
    if (rc == SQLITE_OK) {
      std::lock_guard<std::mutex> lock(owner->mu_);
      owner->durable_[name] = std::nullopt;
    }
    return rc;
  }
  static int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
    auto* owner = static_cast<CrashVfs*>(vfs->pAppData);
    return owner->base_->xAccess(owner->base_, name, flags, out);
  }
  static int FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
    auto* owner = static_cast<CrashVfs*>(vfs->pAppData);
    return owner->base_->xFullPathname(owner->base_, name, n, out);
  }
};

const sqlite3_io_methods CrashVfs::Hooks::kMethods = {
    3,
    &Hooks::Close,
    &Hooks::Read,
    &Hooks::Write,
    &Hooks::Truncate,
    &Hooks::Sync,
    &Hooks::FileSize,
    &Hooks::Lock,
    &Hooks::Unlock,
    &Hooks::CheckReservedLock,
    &Hooks::FileControl,
    &Hooks::SectorSize,
    &Hooks::DeviceCharacteristics,
    &Hooks::ShmMap,
    &Hooks::ShmLock,
    &Hooks::ShmBarrier,
    &Hooks::ShmUnmap,
    &Hooks::Fetch,
    &Hooks::Unfetch,
};

CrashVfs::CrashVfs(bool make_default) : vfs_(std::make_unique<sqlite3_vfs>()) {
  base_ = sqlite3_vfs_find(nullptr);
  *vfs_ = *base_;
  vfs_->szOsFile = static_cast<int>(kHeader) + base_->szOsFile;
  vfs_->zName = kName;
  vfs_->pAppData = this;
  vfs_->pNext = nullptr;
  vfs_->xOpen = &Hooks::Open;
  vfs_->xDelete = &Hooks::Delete;
  vfs_->xAccess = &Hooks::Access;
  vfs_->xFullPathname = &Hooks::FullPathname;
  sqlite3_vfs_register(vfs_.get(), make_default ? 1 : 0);
}

CrashVfs::~CrashVfs() { sqlite3_vfs_unregister(vfs_.get()); }

void CrashVfs::Cut() { cut_ = true; }

Status CrashVfs::Restore() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [path, content] : durable_) {
    if (!content) {
      ::unlink(path.c_str());
      continue;
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << *content;
    if (!out.good()) return Status::Error("crash vfs: cannot restore " + path);
  }
  // The WAL index is shared memory: gone with the power.
  for (const auto& [path, is_main] : main_db_) ::unlink((path + "-shm").c_str());
  durable_.clear();
  main_db_.clear();
  cut_ = false;
  return Status::Ok();
}

}  // namespace linkwatch::faults
