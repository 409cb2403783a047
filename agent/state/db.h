// Db: a thin RAII wrapper over one SQLite connection, and Statement over one
// prepared statement. Every part of linkwatch that touches SQLite goes through
// these so that busy handling, WAL mode and error messages are set in one
// place. A Db is not thread-safe: each thread opens its own connection (SQLite
// in WAL mode lets readers and one writer work concurrently).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace linkwatch::state {

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
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  Status status_;
};

class Db {
 public:
  enum class Mode { kReadWriteCreate, kReadWrite, kReadOnly };

  // Opens `path` with a busy timeout; read-write connections switch to WAL.
  static Result<std::unique_ptr<Db>> Open(const std::string& path,
                                          Mode mode = Mode::kReadWriteCreate);
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

  // PRAGMA data_version: changes when another connection commits.
  Result<int64_t> DataVersion();
  int64_t LastInsertRowId() const;
  int Changes() const;
  const std::string& path() const { return path_; }
  std::string LastError() const;
  sqlite3* raw() { return db_; }

 private:
  Db(sqlite3* db, std::string path);
  sqlite3* db_;
  std::string path_;
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
