// Source: where the sync core reads a table from. A source describes a
// change-tracked table (columns, key), reads all of it at one consistent
// moment (initial sync) and then its net changes after a durable cursor
// (incremental sync). Cursors are opaque strings (a SQLite source's sequence
// number, a Dataverse delta token): the engine stores them with the state
// rows after each committed batch and compares them only for equality;
// whatever needs their meaning (how far behind, anything waiting) asks the
// source.
//
// Rows are handed to a callback as views valid only during the call, so a
// million-row initial read allocates nothing per row. A Source is used by one
// thread at a time; open one per sync worker.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/status.h"

namespace linkwatch::sync {

// The lake's attribute types (lake-format.md "model.json").
enum class ValueType { kGuid, kString, kInt64, kDouble, kDecimal, kBoolean, kDateTime };
const char* CdmDataType(ValueType t);  // "guid", "string", "int64", ...

// One value as the source stores it.
struct Value {
  enum class Kind : uint8_t { kNull, kInt, kReal, kText, kBlob };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double d = 0;
  std::string_view text;  // kText and kBlob (raw bytes)

  bool is_null() const { return kind == Kind::kNull; }
};

// A Value that owns its bytes (a column's DEFAULT kept with the schema, a key
// looked up in the source).
struct StoredValue {
  Value::Kind kind = Value::Kind::kNull;
  int64_t i = 0;
  double d = 0;
  std::string bytes;

  Value view() const { return Value{kind, i, d, bytes}; }
};

// A choice's value and label (Dataverse option sets), for the lake's
// metadata files.
struct ChoiceOption {
  int64_t value = 0;
  std::string label;
  int language = 1033;  // the label's LCID
  int64_t state = -1;   // a Status option: the State it belongs to

  bool operator==(const ChoiceOption&) const = default;
};

// A table a lookup refers to, and the column it refers to there (its
// primary id: accountid, or activityid for the activity tables).
struct LookupTarget {
  std::string table;
  std::string attribute;

  bool operator==(const LookupTarget&) const = default;
};

// What a Dataverse source knows of a column beyond its type; empty (the
// defaults) for SQLite sources. Written to the lake's metadata files.
struct ColumnMetadata {
  enum class Choice : uint8_t { kNone, kPicklist, kState, kStatus };
  Choice choice = Choice::kNone;
  std::string option_set{};  // a global option set's name ("" when local)
  std::vector<ChoiceOption> options{};
  std::vector<LookupTarget> targets{};  // a lookup's referenced tables
  int max_length = -1;                  // string: characters, -1 unknown
  int precision = -1;                   // Decimal, Double, Money: decimals shown; -1 unknown

  bool operator==(const ColumnMetadata&) const = default;
};

struct SourceColumn {
  std::string name;
  ValueType type = ValueType::kString;
  std::string declared_type;  // as the source declares it, for messages
  bool binary = false;        // values are bytes, written as base64 text
  int precision = 38;         // decimal: as declared (DECIMAL(p,s)), else 38 and 10
  int scale = 10;
  ColumnMetadata metadata{};
};

struct TableSchema {
  std::string name;
  std::vector<SourceColumn> columns;  // source order, key included
  int key = -1;                       // index of the single-column primary key
  int createdon = -1;                 // index of "createdon", or -1
  // Per column, its constant DEFAULT as the source evaluates it (kNull when
  // it has none or DEFAULT NULL); empty when no column has one. What rows
  // that predate a column added later hold in it (lake-format.md "Rows from
  // a SQLite source").
  std::vector<StoredValue> defaults;

  int ColumnIndex(std::string_view column) const;
};

// A row (or, for a delete, only its key) with the change-log sequence of its
// latest change: the lake's versionnumber.
struct RowView {
  int64_t version = 0;
  bool deleted = false;
  bool created = false;   // the key's latest change created it (every row of an initial read)
  double changed_at = 0;  // epoch seconds of the change; 0 when unknown
  Value key;
  std::span<const Value> values;  // indexed like TableSchema::columns; empty for deletes
  // Other source rows whose keys the destination writes as the same Id as
  // this one (two case forms of a GUID, 1 and '1'); set by the engine for
  // incremental rows. Such rows collide: none of them may reach the lake.
  int64_t key_twins = 0;
};

// Where a table's changes were consumed up to, as the source encodes it.
// Opaque to everything but the source that returned it; never empty once
// returned by ReadAll.
using Cursor = std::string;

// Returning a non-ok Status stops the read and is returned by it.
using RowCallback = std::function<Status(const RowView&)>;

class Source {
 public:
  virtual ~Source() = default;

  // The table's columns and key. Fails with a message saying how to fix it
  // when the table is missing, has no single-column key or is not tracked.
  virtual Result<TableSchema> Describe(const std::string& table) = 0;
  // Rows in the source now (crmrecordcount).
  virtual Result<int64_t> RowCount(const TableSchema& table) = 0;
  // RowCount is a snapshot of unknown age (Dataverse: up to a day old), not
  // the rows of now: the engine trusts it only when it moves (SnapshotCount).
  virtual bool CountIsSnapshot() const { return false; }
  // Every row at one consistent moment; returns the cursor to continue from.
  virtual Result<Cursor> ReadAll(const TableSchema& table, const RowCallback& row) = 0;
  // Net changes after `after`, oldest first, at most `limit` rows; returns
  // the cursor after the last change delivered (== after when none).
  virtual Result<Cursor> ReadChanges(const TableSchema& table, const Cursor& after, size_t limit,
                                     const RowCallback& row) = 0;
  // Whether changes of the table after `after` are waiting to be read.
  virtual Result<bool> ChangesWaiting(const TableSchema& table, const Cursor& after) = 0;
  // Whether any two keys of the table could be written as one Id (by the
  // rules of lake::KeyTwins): false lets an initial read skip looking up
  // every key's twins. May say true when unsure.
  virtual Result<bool> MayHaveKeyTwins(const TableSchema& table) = 0;
  // How many of `keys` the table holds, each compared exactly (same storage
  // class and bytes, no affinity conversion). Callable from a row callback.
  virtual Result<int64_t> CountKeys(const TableSchema& table,
                                    std::span<const StoredValue> keys) = 0;
  // The newest cursor of the whole source (equal to a table's cursor only
  // when nothing of any table is waiting).
  virtual Result<Cursor> Head() = 0;
  // Changes whenever the source's schema does (a column added, ...); the
  // engine describes its tables again when it moves.
  virtual Result<int64_t> SchemaVersion() = 0;
  // Logs a change of every row of the table now, each with a sequence number
  // of its own, in one transaction: after a column was added with a DEFAULT,
  // a destination that only appends re-emits every row with it, through the
  // ordinary (resumable, crash-safe) incremental batches, and the rows'
  // versionnumbers stay the change log's sequence numbers.
  virtual Status LogChangeOfEveryRow(const TableSchema& table) = 0;

  // A number that changes whenever the source may hold changes the engine
  // has not read (another writer committed, ...). While it stays the same
  // after a round that found nothing, the engine skips the table's rounds
  // and only records its heartbeat (a full round still runs every 15 s). An
  // error: the source cannot tell, and every round runs.
  virtual Result<int64_t> DataVersion() { return Status::Error("no data version"); }

  // The engine is stopping: a read in flight (a page, a wait on a 429's
  // Retry-After or a backoff) and every call after it fail soon. From any
  // thread; sources whose reads are all quick need not do anything.
  virtual void Cancel() {}

  // Breaks in the chain of changes (docs/sync.md "Breaks"). Each returns a
  // Status::Break when the changes after a committed cursor can no longer be
  // trusted to bring the destination up to date; the engine then resyncs.

  // Whether the source is still the file it opened: ok; an error with reason
  // "source_missing" while nothing is at its path; a break
  // "source_replaced" when another file is there (the source has already
  // reopened it, so the resync reads the new file).
  virtual Status CheckFile() = 0;
  // Before reading the changes of `table` after `committed` for `consumer`
  // (the linked table's id): a break when the table was dropped
  // ("table_recreated"), its change tracking is missing or was reinstalled
  // since the consumer's checkpoint ("tracking_gap"), its key changed
  // ("key_changed"), or the source's clock or the consumer's checkpoint is
  // behind `committed` or missing ("source_restored", "source_replaced").
  // Called only with a committed cursor.
  // A committed cursor this source cannot read (another source type's) is a
  // break too ("source_replaced").
  virtual Status CheckChain(const std::string& table, const std::string& consumer,
                            const Cursor& committed) = 0;
  // Records in the source that `consumer` has consumed `table` up to
  // `cursor`, with the tracking that the last read of the table saw; called
  // before the cursor is committed (so the checkpoint is never behind it)
  // and only when the cursor moved.
  virtual Status Checkpoint(const TableSchema& table, const std::string& consumer,
                            const Cursor& cursor) = 0;
};

}  // namespace linkwatch::sync
