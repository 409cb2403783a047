// The `sqlite` source: any SQLite database whose tables were put under
// change tracking by EnableChangeTracking (`linkwatch source
// enable-change-tracking`).
//
// Change tracking is a change log kept by triggers inside the source file:
//   _linkwatch_clock    one row, the last sequence number handed out;
//   _linkwatch_changes  one row per (table, key) with the sequence number and
//                       kind ('c', 'u', 'd') of that key's latest change, so
//                       the log holds net changes, like Dataverse's
//                       RetrieveEntityChanges, and never more rows than keys;
//   _linkwatch_tracked  the tracked tables.
// A row's versionnumber is its latest change's sequence number (0 for rows
// untouched since tracking began). Every read runs in one read transaction,
// so rows, versions and the cursor agree; WAL mode (set when tracking is
// enabled) lets writers go on meanwhile.
//
// A SqliteSource owns one connection and is used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/sync/source.h"

namespace linkwatch::state {
class Db;
}

namespace linkwatch::sync {

// Installs the change log and the triggers of `tables` (idempotent; a table
// already tracked is left as it is). Fails, changing nothing, when a table is
// missing or has no single-column primary key.
Status EnableChangeTracking(const std::string& db_path, const std::vector<std::string>& tables);

class SqliteSource final : public Source {
 public:
  static Result<std::unique_ptr<SqliteSource>> Open(const std::string& path);
  ~SqliteSource() override;

  Result<TableSchema> Describe(const std::string& table) override;
  Result<int64_t> RowCount(const TableSchema& table) override;
  Result<Cursor> ReadAll(const TableSchema& table, const RowCallback& row) override;
  Result<Cursor> ReadChanges(const TableSchema& table, Cursor after, size_t limit,
                             const RowCallback& row) override;
  Result<bool> MayHaveKeyTwins(const TableSchema& table) override;
  Result<int64_t> CountKeys(const TableSchema& table, std::span<const StoredValue> keys) override;
  Result<Cursor> Head() override;
  Result<int64_t> SchemaVersion() override;
  Status LogChangeOfEveryRow(const TableSchema& table) override;

 private:
  explicit SqliteSource(std::unique_ptr<state::Db> db);
  std::unique_ptr<state::Db> db_;
};

}  // namespace linkwatch::sync
