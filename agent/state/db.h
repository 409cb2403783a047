// Db: a thin RAII wrapper over one SQLite connection, and Statement over one
// prepared statement. Every part of linkwatch that touches SQLite goes through
// these so that busy handling, WAL mode and error messages are set in one
// place. A Db is not thread-safe: each thread opens its own connection (SQLite
// in WAL mode lets readers and one writer work concurrently).
//
// A Db also remembers which file it opened (device and inode), because a
// long-lived connection keeps reading and writing the old file after the path
// was deleted or replaced (`mv new.db watched.db`, `rm` then `cp`):
// CheckFile() says whether the connection is still the file at its path, and
// a writable connection refuses every commit once it is not, so that nothing
// is ever written into an unlinked file (the commit fails with the reason).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/core/env.h"
#include "agent/core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace linkwatch::state {

// What stat() says about a file: which file it is (device, inode) and what
// it looks like now (size, modification time), to notice both a replaced
// file and one rewritten behind SQLite's back.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;

  bool SameFile(const FileIdentity& o) const { return device == o.device && inode == o.inode; }
  bool operator==(const FileIdentity& o) const {
    return SameFile(o) && size == o.size && mtime_ns == o.mtime_ns;
  }
};

// stat(path); an error names the path and the reason ("does not exist").
Result<FileIdentity> StatFile(const std::string& path, Env& env = Env::Default());

class Db;

// Where a connection's file operations go: `env` for linkwatch's own checks
// of the file (identity, CheckFile; null: Env::Default()), and SQLite's I/O
// through the VFS registered under the name `vfs` ("": SQLite's default).
// Tests pass a fault-injecting pair to simulate a power cut.
struct DbFiles {
  Env* env = nullptr;
  std::string vfs;
};

class Statement {
 public:
  Statement() = default;
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  // Binds are 1-based, as in SQLite.
  Statement& Bind(int i, std::string_view v);
  Statement& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Statement& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Statement& Bind(int i, int64_t v);
  Statement& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Statement& Bind(int i, double v);
  Statement& BindNull(int i);
  Statement& BindBlob(int i, std::string_view bytes);
  template <typename T>
  Statement& Bind(int i, const std::optional<T>& v) {
    return v ? Bind(i, *v) : BindNull(i);
  }

  // Returns true while a row is available; false when done. Errors make
  // status() non-ok and return false.
  bool Step();
  // Runs to completion (for INSERT/UPDATE/DELETE).
  Status Run();
  void Reset();
  Status status() const { return status_; }

  int ColumnCount() const;
  bool IsNull(int col) const;
  int64_t Int(int col) const;
  double Real(int col) const;
  std::string Text(int col) const;
  std::string_view TextView(int col) const;
  std::string_view BlobView(int col) const;  // the raw bytes of a BLOB
  // 1 INTEGER, 2 FLOAT, 3 TEXT, 4 BLOB, 5 NULL (sqlite3 type codes).
  int Type(int col) const;
  std::string_view ColumnName(int col) const;

 private:
  friend class Db;
  Statement(const Db* owner, sqlite3* db, sqlite3_stmt* stmt)
      : owner_(owner), db_(db), stmt_(stmt) {}
  const Db* owner_ = nullptr;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
};

class Db {
 public:
  enum class Mode { kReadWriteCreate, kReadWrite, kReadOnly };
  // kWal: a read-write connection switches the file to WAL with
  // synchronous=FULL (linkwatch's own files: a commit is durable when it
  // returns, power cut included). kAsIs: the file's journal mode is left as it is (a sync source
  // belongs to its application, docs/sync.md).
  enum class Journal { kWal, kAsIs };

  // Opens `path` with a busy timeout; read-write connections switch to WAL
  // unless told kAsIs.
  static Result<std::unique_ptr<Db>> Open(const std::string& path,
                                          Mode mode = Mode::kReadWriteCreate,
                                          Journal journal = Journal::kWal,
                                          const DbFiles& files = {});
  // The busy timeout set at Open is 5 s, right for commands and the sync
  // core; the watcher's writes use a short one so that a writer holding the
  // store never stalls evaluation (the write is retried at the next round).
  static constexpr std::chrono::milliseconds kDefaultBusyTimeout{5000};
  static constexpr std::chrono::milliseconds kWatcherBusyTimeout{100};
  void SetBusyTimeout(std::chrono::milliseconds timeout);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  // Prepared once and cached by SQL text; the returned statement is reset.
  Statement* Cached(const std::string& sql);

  Status Begin();  // BEGIN IMMEDIATE
  Status Commit();
  void Rollback();

  // The integer a one-value query (a PRAGMA, a counter row) answers, through
  // a cached statement reset before returning; an error when it has no row.
  Result<int64_t> CachedInt(const std::string& sql);
  // PRAGMA data_version: changes when another connection commits.
  Result<int64_t> DataVersion() { return CachedInt("PRAGMA data_version"); }
  int64_t LastInsertRowId() const;
  int Changes() const;
  const std::string& path() const { return path_; }
  // The connection's last SQLite error, prefixed with the file's path: every
  // error of the state store (or any file opened here) says which file it
  // is about, so that "database is locked" points at the file to look at.
  std::string LastError() const;
  sqlite3* raw() { return db_; }

  // Ok while the file at path() is the file this connection opened; an
  // error saying "deleted" or "replaced" otherwise. A stat(), so cheap
  // enough to call every few tens of milliseconds. Always ok for
  // connections without a file (":memory:").
  Status CheckFile() const;
  // The identity recorded at Open (nullopt without a file).
  const std::optional<FileIdentity>& identity() const { return identity_; }

  // The message for a failed SQLite call, naming the file: the refused
  // commit's reason when the file check refused it, sqlite3_errmsg otherwise.
  std::string ErrorMessage(int rc) const;

 private:
  Db(sqlite3* db, std::string path, Env& env);
  static int CommitHook(void* self);
  sqlite3* db_;
  std::string path_;
  Env& env_;
  std::optional<FileIdentity> identity_;
  std::string refused_;  // why the last commit was refused, "" if it was not
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

// Commits on Commit(); rolls back in the destructor otherwise.
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) { status_ = db_.Begin(); }
  ~Transaction() {
    if (status_.ok() && !done_) db_.Rollback();
  }
  Status status() const { return status_; }
  Status Commit() {
    done_ = true;
    return status_.ok() ? db_.Commit() : status_;
  }

 private:
  Db& db_;
  Status status_;
  bool done_ = false;
};

}  // namespace linkwatch::state
