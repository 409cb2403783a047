// StateStore: linkwatch's SQLite state file. Creates and migrates the schema
// (the six Synapse Link tables of schema.h plus linkwatch_ tables: alerts,
// outbox, notification log, ...) and reads typed snapshots. The schema
// version is PRAGMA user_version; migrations run in order in one transaction.
//
// ReadSnapshot works on any SQLite file holding the six tables, including
// files written by other tools with missing columns (read as null).
// A StateStore owns one connection and is not thread-safe; threads that need
// the file open their own StateStore or Db.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/core/status.h"
#include "agent/state/db.h"
#include "agent/state/snapshot.h"

namespace linkwatch::state {

inline constexpr int kSchemaVersion = 8;

// Creates missing tables and applies pending migrations.
Status Migrate(Db& db);
// The CREATE TABLE statement of one of the six tables.
std::string SixTableDdl(const TableDef& table);
// Which of the six tables' columns a file has, and the statements that read
// them: kept by a caller that reads the same connection again and again
// (the watcher, each time the file changed), so that a read is only the
// rows. Worked out again when the file's schema changes.
struct SnapshotPlan {
  struct Table {
    std::string sql;            // empty: the file has no such table
    std::vector<int> selected;  // the TableDef columns the SELECT returns, in order
  };
  int64_t schema_version = -1;  // PRAGMA schema_version the plan is for
  std::vector<Table> tables;    // by AllTables() index
};

// Reads the six tables; tables or columns that do not exist read as empty/null.
// `plan`, when given, is used while the file's schema is unchanged and
// updated when it changed; it belongs to `db` (a new connection starts with
// a new plan).
Result<Snapshot> ReadSnapshot(Db& db, SnapshotPlan* plan = nullptr);
// Whether `path` can be the state store, without creating or changing
// anything (check-config runs it): an existing file must be a SQLite
// database this linkwatch can read and migrate (schema version not newer),
// readable and writable; a missing one needs a writable folder to be
// created in.
Status CheckStateStoreFile(const std::string& path);
// Whether an existing file is a SQLite database that can be read (watched
// files); read-only.
Status CheckSqliteFile(const std::string& path);
// Lower-case random GUID text.
std::string NewGuid();

class StateStore {
 public:
  // Opens (creating if needed) and migrates the state store at `path`.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& path);

  Db& db() { return *db_; }
  Result<Snapshot> Read() { return ReadSnapshot(*db_); }

 private:
  explicit StateStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  std::unique_ptr<Db> db_;
};

}  // namespace linkwatch::state
