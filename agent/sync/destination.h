// Destination: where the sync core writes a table to (the lake of
// lake-format.md; later the SQLite warehouse of data-export-service.md).
//
// A TableWriter takes one batch at a time: Begin, Put every row (or delete),
// Commit. Commit makes the batch durable and visible and returns a marker
// (opaque text) that the engine stores in the state store in the same
// transaction as the source cursor. After a crash the engine reopens the
// table with the last stored marker, and the writer cuts back whatever it
// wrote after that marker, so replaying the batch from the stored cursor
// writes every change exactly once.
//
// A Destination is shared by the tables of one profile and is thread-safe;
// each TableWriter is used by one thread (the table's sync worker).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/core/status.h"
#include "agent/sync/source.h"

namespace linkwatch::sync {

enum class Partitioning { kYear, kMonth };

struct TableOptions {
  bool append_only = false;
  Partitioning partition = Partitioning::kYear;  // append-only forces year
};

// A source row that could not be written as the lake's types require (a
// value that is not its column's type, a key that would collide with
// another): left out of the lake, the rest of the batch goes on
// (docs/sync.md "Failed records").
struct FailedRecord {
  std::string id;  // the lake Id it would have (a printable form of a bad key)
  int64_t version = 0;
  std::string reason;  // short: the column and the kind of value, never the value
};

// What a committed batch did.
struct BatchResult {
  std::string marker;                // store with the cursor; pass back to OpenTable
  int64_t records = 0;               // lakerecordcount after the batch
  int64_t created = 0;               // rows new to the destination
  int64_t updated = 0;               // rows that replaced an earlier version
  int64_t deleted = 0;               // rows removed (in place) or delete rows written (append only)
  std::vector<FailedRecord> failed;  // rows left out of the lake
  std::vector<std::string> synced_ids;  // Ids written or deleted (when asked for)
  int64_t invalid_text = 0;             // texts written with U+FFFD replacements
};

// What a snapshot recorded (synapselinkexternaltablestate).
struct SnapshotResult {
  int64_t records = 0;      // rows in the snapshot (live records; change rows in append only)
  int64_t max_version = 0;  // highest versionnumber in it
};

class TableWriter {
 public:
  virtual ~TableWriter() = default;
  // Starts a batch at `now` (epoch seconds; the SinkModifiedOn of its rows).
  // An initial batch replaces the table's whole content at Commit; a change
  // batch applies its rows to what is there, and first checks that what is
  // there is still what was committed: if not, a Status::Break (the engine
  // resyncs the table). An initial batch never reports a break.
  virtual Status Begin(bool initial, double now) = 0;
  // Whether Commit lists the Ids of the batch that synced fine (so that
  // their earlier failed records can be forgotten); off by default.
  virtual void ReportSyncedIds(bool on) = 0;
  // One row or delete (RowView::deleted); valid only during the call.
  virtual Status Put(const RowView& row) = 0;
  virtual Result<BatchResult> Commit() = 0;
  // Drops an uncommitted batch.
  virtual void Abort() = 0;
  // Checks, outside a batch, that what is there is still what was committed
  // (the check Begin of a change batch makes, without starting one): a
  // Status::Break when not. The engine calls it for a table whose source is
  // idle, so that a destination changed by hand is found without a round.
  // By default nothing is checked.
  virtual Status Check() { return Status::Ok(); }
  // A read-only copy of the committed table as of `now`, keeping the newest
  // `keep` copies. Not during a batch.
  virtual Result<SnapshotResult> Snapshot(double now, int keep) = 0;
  // True when records already written lack the DEFAULT of a column added to
  // the source since, and only re-emitting every row can carry it (append
  // only; in place the writer rewrites its partitions itself when opened).
  // The engine then has the source log a change of every row
  // (Source::LogChangeOfEveryRow), calls EveryRowLogged, and commits the
  // next marker with its cursor: the marker remembers it, so a crash before
  // that commit logs them again (harmless: the log keeps one entry per key).
  virtual bool NeedsEveryRowAgain() const { return false; }
  virtual void EveryRowLogged() {}
};

// Something the destination noticed and repaired by itself that an operator
// should hear about (a model.json deleted by hand and recreated: reason
// "model_missing"). Not a failure of any table's round.
struct DestinationNotice {
  std::string reason;   // a reason code, as Status::reason()
  std::string message;  // names the file and what was done
};

class Destination {
 public:
  virtual ~Destination() = default;
  // The notices since the last call (oldest first); the engine may count
  // them (linkwatch_sync_table_errors_total) and record them. Thread-safe.
  virtual std::vector<DestinationNotice> TakeNotices() { return {}; }
  // Opens (creating if needed) a table. `marker` is the last one stored with
  // the cursor ("" if none): anything written after it is cut back, and
  // what it recorded is checked (a Status::Break when the destination no
  // longer holds what was committed; never with an empty marker).
  virtual Result<std::unique_ptr<TableWriter>> OpenTable(const TableSchema& schema,
                                                         const TableOptions& options,
                                                         const std::string& marker) = 0;
};

}  // namespace linkwatch::sync
