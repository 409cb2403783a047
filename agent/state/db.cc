#include "agent/state/db.h"

#include <sqlite3.h>

#include <mutex>
#include <unordered_map>

namespace linkwatch::state {

namespace {

// The identity of the file at `path`; nullopt when there is none.
Result<std::optional<FileIdentity>> Identify(Env& env, const std::string& path) {
  auto info = env.Stat(path);
  if (!info) return info.status();
  if (!*info) return std::optional<FileIdentity>();
  FileIdentity id;
  id.device = static_cast<dev_t>((*info)->dev);
  id.inode = static_cast<ino_t>((*info)->ino);
  id.size = static_cast<int64_t>((*info)->size);
  id.mtime_ns = (*info)->mtime_ns;
  return std::optional<FileIdentity>(id);
}

}  // namespace

Result<FileIdentity> StatFile(const std::string& path, Env& env) {
  auto id = Identify(env, path);
  if (!id) return Status::Error(path + ": " + id.message());
  if (!*id) return Status::Error(path + " does not exist");
  return **id;
}

Statement::Statement(Statement&& o) noexcept
    : owner_(o.owner_), db_(o.db_), stmt_(o.stmt_), status_(std::move(o.status_)) {
  o.stmt_ = nullptr;
}
Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (stmt_) sqlite3_finalize(stmt_);
    owner_ = o.owner_;
    db_ = o.db_;
    stmt_ = o.stmt_;
    status_ = std::move(o.status_);
    o.stmt_ = nullptr;
  }
  return *this;
}
Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::Bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Statement& Statement::BindBlob(int i, std::string_view bytes) {
  sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    status_ = Status::Error(owner_ ? owner_->ErrorMessage(rc) : std::string(sqlite3_errmsg(db_)));
  }
  return false;
}

Status Statement::Run() {
  while (Step()) {
  }
  Status s = status_;
  Reset();
  return s;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  status_ = Status::Ok();
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::Real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::Text(int col) const { return std::string(TextView(col)); }
std::string_view Statement::TextView(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string_view Statement::BlobView(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  return {static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}
int Statement::Type(int col) const { return sqlite3_column_type(stmt_, col); }
std::string_view Statement::ColumnName(int col) const { return sqlite3_column_name(stmt_, col); }

struct Db::Cache {
  std::unordered_map<std::string, Statement> statements;
};

Db::Db(sqlite3* db, std::string path, Env& env)
    : db_(db), path_(std::move(path)), env_(env), cache_(std::make_unique<Cache>()) {}

Db::~Db() {
  cache_.reset();  // finalize statements before closing
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, Mode mode, Journal journal,
                                     const DbFiles& files) {
  Env& env = files.env ? *files.env : Env::Default();
  // SQLite's memory statistics take a process-wide mutex on every
  // allocation, and linkwatch never reads them. Only possible before SQLite
  // initialises (otherwise SQLITE_MISUSE, and the statistics stay on).
  static std::once_flag no_memstatus;
  std::call_once(no_memstatus, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::kReadWriteCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case Mode::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  // The file is identified before and after opening: when the two differ,
  // the path was swapped while SQLite opened it, and which file the
  // connection holds is unknown, so it opens again.
  for (int attempt = 0;; ++attempt) {
    auto before = StatFile(path, env);
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw, flags, files.vfs.empty() ? nullptr : files.vfs.c_str());
    if (rc != SQLITE_OK) {
      std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
      if (raw) sqlite3_close_v2(raw);
      return Status::Error("opening " + path + ": " + msg);
    }
    std::unique_ptr<Db> db(new Db(raw, path, env));
    sqlite3_busy_timeout(raw, static_cast<int>(kDefaultBusyTimeout.count()));
    sqlite3_extended_result_codes(raw, 1);
    if (mode != Mode::kReadOnly && journal == Journal::kWal) {
      // FULL: the WAL is fsynced at every commit. With NORMAL a commit
      // reached the disk only at the next checkpoint, so a power cut lost
      // notifications Enqueue had acknowledged and cursors the engine had
      // stored (OutboxTest.QueuedNotificationsSurviveAPowerCut).
      if (auto s = db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"); !s.ok()) {
        return s.WithContext("opening " + path);
      }
    }
    if (auto s = db->Exec("PRAGMA foreign_keys=ON;"); !s.ok()) return s;
    auto after = StatFile(path, env);
    if (before.ok() && !after.ok()) {
      return Status::Error("opening " + path + ": the file vanished while it was opened");
    }
    if (after.ok() && before.ok() && !before->SameFile(*after) && attempt < 3) continue;
    if (after.ok()) db->identity_ = *after;
    if (mode != Mode::kReadOnly && db->identity_)
      sqlite3_commit_hook(raw, &Db::CommitHook, db.get());
    return db;
  }
}

void Db::SetBusyTimeout(std::chrono::milliseconds timeout) {
  sqlite3_busy_timeout(db_, static_cast<int>(timeout.count()));
}

Status Db::CheckFile() const {
  if (!identity_) return Status::Ok();
  auto now = Identify(env_, path_);
  if (!now) return Status::Error(path_ + ": " + now.message());
  if (!*now) {
    return Status::Error(path_ +
                         " was deleted while open (the connection still holds the unlinked file)");
  }
  if (!(*now)->SameFile(*identity_)) {
    return Status::Error(path_ + " was replaced by another file while open");
  }
  return Status::Ok();
}

// Runs before every commit of a writable connection; a non-zero answer turns
// the commit into a rollback.
int Db::CommitHook(void* self) {
  auto* db = static_cast<Db*>(self);
  Status s = db->CheckFile();
  if (s.ok()) {
    db->refused_.clear();
    return 0;
  }
  db->refused_ = "refusing to commit: " + s.message();
  return 1;
}

std::string Db::ErrorMessage(int rc) const {
  if (rc == SQLITE_CONSTRAINT_COMMITHOOK && !refused_.empty()) return refused_;  // names it
  return LastError();
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = rc == SQLITE_CONSTRAINT_COMMITHOOK && !refused_.empty() ? refused_
                      : err                                                   ? err
                                                                              : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Status::Error(path_ + ": " + msg);
  }
  return Status::Ok();
}

Result<Statement> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return Status::Error(path_ + ": " + sqlite3_errmsg(db_) + " in: " + std::string(sql));
  }
  return Statement(this, db_, stmt);
}

Statement* Db::Cached(const std::string& sql) {
  auto it = cache_->statements.find(sql);
  if (it == cache_->statements.end()) {
    auto st = Prepare(sql);
    if (!st.ok()) return nullptr;
    it = cache_->statements.emplace(sql, std::move(st).value()).first;
  }
  it->second.Reset();
  return &it->second;
}

Status Db::Begin() { return Exec("BEGIN IMMEDIATE"); }
Status Db::Commit() { return Exec("COMMIT"); }
void Db::Rollback() { (void)Exec("ROLLBACK"); }

Result<int64_t> Db::CachedInt(const std::string& sql) {
  Statement* st = Cached(sql);
  if (st == nullptr) return Status::Error(LastError() + " in: " + sql);
  if (!st->Step()) {
    Status s = st->status().ok() ? Status::Error(path_ + ": no row from " + sql) : st->status();
    st->Reset();
    return s;
  }
  const int64_t v = st->Int(0);
  st->Reset();
  return v;
}

int64_t Db::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }
std::string Db::LastError() const { return path_ + ": " + sqlite3_errmsg(db_); }

}  // namespace linkwatch::state
