// The `sqlite` source: any SQLite database whose tables were put under
// change tracking by InstallChangeTracking (`linkwatch source
// enable-change-tracking`).
//
// Change tracking is a change log kept by triggers inside the source file:
//   _linkwatch_clock     one row, the last sequence number handed out;
//   _linkwatch_changes   one row per (table, key) with the sequence number and
//                        kind ('c', 'u', 'd') of that key's latest change, so
//                        the log holds net changes, like Dataverse's
//                        RetrieveEntityChanges, and never more rows than keys;
//   _linkwatch_tracked   the tracked tables: key column and a generation, a
//                        random number drawn whenever the triggers are
//                        (re)installed;
//   _linkwatch_consumer  one row per consumer (a linked table, by its
//                        profileentity id): the cursor it consumed and the
//                        generation and key it read them with.
// A row's versionnumber is its latest change's sequence number (0 for rows
// untouched since tracking began). Every read runs in one read transaction,
// so rows, versions and the cursor agree. The file's journal mode is the
// application's: linkwatch changes it only when enable-change-tracking is
// told to (WAL lets writers go on while linkwatch reads).
//
// Breaks (docs/sync.md "Breaks"). A restore from a backup, a replaced file, a
// gap in tracking or a new key cannot be seen in the change log itself, so
// the source keeps a checkpoint per consumer, written before the sync core
// commits a cursor (a crash leaves it ahead of the committed cursor, never
// behind) and only when the cursor moved (idle rounds stay read-only).
// CheckChain compares it with the committed cursor: a checkpoint behind the
// cursor (or a clock behind it) means the file was restored, even when many
// changes were made since; a missing checkpoint means another file; another
// generation means the triggers were removed and installed again, so changes
// in between were never logged; another key means the table was rebuilt.
// CheckFile compares the path's device and inode with the open file's, and
// refuses to read a replacement while the old file's -wal is still there.
//
// A SqliteSource owns one connection and is used by one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/state/db.h"
#include "agent/sync/source.h"

namespace linkwatch::sync {

// What InstallChangeTracking did.
struct ChangeTrackingReport {
  std::vector<std::string> installed;  // triggers (re)installed: a new generation
  std::vector<std::string> unchanged;  // already tracked with current triggers and key
  // With a journal mode asked for: the mode before and after ("wal", ...).
  std::string journal_mode_before, journal_mode;
};

// Installs the change log and the triggers of `tables`. A table already
// tracked with the current triggers and key is left as it is; one whose
// triggers are missing or outdated, or whose key changed, gets new ones and
// a new generation (a key change also forgets the table's logged changes,
// which name old keys). Fails, changing nothing, when a table is missing or
// has no single-column primary key. `journal_mode` ("wal", "delete",
// "truncate", "persist"; "" leaves it) is set after the tables are tracked.
Result<ChangeTrackingReport> InstallChangeTracking(const std::string& db_path,
                                                   const std::vector<std::string>& tables,
                                                   const std::string& journal_mode = "");
// InstallChangeTracking without changing the journal mode.
Status EnableChangeTracking(const std::string& db_path, const std::vector<std::string>& tables);

class SqliteSource final : public Source {
 public:
  static Result<std::unique_ptr<SqliteSource>> Open(const std::string& path);
  ~SqliteSource() override;

  Result<TableSchema> Describe(const std::string& table) override;
  Result<int64_t> RowCount(const TableSchema& table) override;
  Result<Cursor> ReadAll(const TableSchema& table, const RowCallback& row) override;
  Result<Cursor> ReadChanges(const TableSchema& table, const Cursor& after, size_t limit,
                             const RowCallback& row) override;
  Result<bool> ChangesWaiting(const TableSchema& table, const Cursor& after) override;
  Result<bool> MayHaveKeyTwins(const TableSchema& table) override;
  Result<int64_t> CountKeys(const TableSchema& table, std::span<const StoredValue> keys) override;
  Result<Cursor> Head() override;
  Result<int64_t> SchemaVersion() override;
  // PRAGMA data_version of this connection: it changes whenever another
  // connection committed to the file (the engine skips an idle table's round
  // while it stays the same and CheckFile finds the same file).
  Result<int64_t> DataVersion() override;
  Status LogChangeOfEveryRow(const TableSchema& table) override;

  Status CheckFile() override;
  Status CheckChain(const std::string& table, const std::string& consumer,
                    const Cursor& committed) override;
  Status Checkpoint(const TableSchema& table, const std::string& consumer,
                    const Cursor& cursor) override;

  // The cursor of a change-log sequence number: its decimal digits.
  static Cursor CursorAt(int64_t sequence);
  // The sequence number a cursor of this source holds; an error for any
  // other string (a cursor another source type wrote).
  static Result<int64_t> SequenceOf(const Cursor& cursor);

  // A table's tracking as _linkwatch_tracked has it.
  struct Tracking {
    int64_t generation = 0;
    std::string key;
    bool operator==(const Tracking&) const = default;
  };

 private:
  SqliteSource(std::string path, std::unique_ptr<state::Db> db);
  // A status for calls made while no file could be opened after a
  // replacement (CheckFile opens it again).
  Status NotOpen() const;
  // The newest sequence number handed out (0 before any change).
  Result<int64_t> HeadSequence();
  // SequenceOf, failing with a break: what was committed cannot be
  // continued from here.
  Result<int64_t> CommittedSequence(const std::string& table, const Cursor& committed) const;

  std::string path_;
  std::unique_ptr<state::Db> db_;  // null only after a failed reopen
  bool lost_ = false;              // the path had no file at the last CheckFile
  // The open file and the -wal beside it at the last CheckFile that found
  // it current: after a replacement by another file, a -wal still the same
  // file is the old file's.
  std::optional<state::FileIdentity> file_, wal_;
  // Per table, the tracking the last CheckChain or ReadAll established:
  // what Checkpoint records and what ReadChanges expects.
  std::map<std::string, Tracking> read_with_;
};

}  // namespace linkwatch::sync
