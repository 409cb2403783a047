// Snapshot: the six state tables read at one moment, typed by schema.h.
// Datetimes are epoch seconds (double), integers, choices and booleans exact
// int64 values (choice codes, booleans 0/1), GUIDs, lookups and strings text.
// A stored value that does not fit its column (text that is not a number, a
// fraction or an out-of-range number in an integer or choice column, an
// unparseable datetime) reads as null and is listed in `invalid_values`, so
// every consumer (API, metrics, status page, CLI, rules) sees the same value.
// A Snapshot is an immutable value once built; share it across threads by
// const reference or shared_ptr.
//
// Memory: a Cell is 16 bytes and its text lives in the Snapshot's TextPool,
// so 10,000 entities (about 50 columns each over three tables) cost a few MB
// rather than tens (a cell with a std::string was 48 bytes plus a heap block
// per GUID).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/state/schema.h"

namespace linkwatch::state {

// `v` as an int64 when it is a whole number in [-2^63, 2^63), else nullopt:
// converting any other double to an integer is undefined behaviour. The one
// range check for every place that turns a state value into an integer.
std::optional<int64_t> WholeInt64(double v);

// The one rule for a value of an integer, choice or boolean column, read
// from text (documented in docs/operations.md, "Values the watcher cannot
// read"): a text that is entirely a number (blanks around it aside) counts
// when it is a whole number in int64 range; a boolean also takes
// "true"/"false"; a choice code must also fit int32. Returns the value, or
// nullopt with `reason` set ("not a number", "out of int64 range", ...).
// The SQLite reader uses it for TEXT values, the Dataverse source for every
// JSON number and string.
std::optional<int64_t> IntegerOfText(std::string_view text, ColumnType type, const char*& reason);
// Why a double that WholeInt64 refused is no int64.
const char* NotInt64Reason(double d);
// `value` when it fits `type` (a choice code must fit int32), else nullopt
// with `reason` set.
std::optional<int64_t> CheckChoiceRange(int64_t value, ColumnType type, const char*& reason);

// One value of a row. Text cells point into a TextPool (see Snapshot::Text),
// which must outlive them; copies of a Snapshot share its pool.
struct Cell {
  // kNumber: a double (datetimes, hand-built numbers); kInt: an exact int64
  // (integer, choice and boolean columns read from SQLite).
  enum class Kind : uint8_t { kNull, kNumber, kText, kInt };
  Kind kind = Kind::kNull;
  uint32_t size = 0;  // text bytes
  union {
    double number = 0;  // kNumber
    int64_t integer;    // kInt
    const char* data;   // kText
  };

  bool is_null() const { return kind == Kind::kNull; }
  bool is_number() const { return kind == Kind::kNumber || kind == Kind::kInt; }
  // The numeric value as a double (an int64 beyond 2^53 rounds to the
  // nearest double, which is what arithmetic in rules and metric samples
  // use); 0 for null and text.
  double as_double() const {
    return kind == Kind::kInt ? static_cast<double>(integer) : kind == Kind::kNumber ? number : 0;
  }
  // The value as an exact integer: kInt as is, a whole in-range kNumber
  // converted; nullopt otherwise.
  std::optional<int64_t> as_int64() const {
    if (kind == Kind::kInt) return integer;
    if (kind == Kind::kNumber) return WholeInt64(number);
    return std::nullopt;
  }
  std::string_view text() const {
    return kind == Kind::kText ? std::string_view(data, size) : std::string_view();
  }
  static Cell Null() { return {}; }
  static Cell Number(double v) {
    Cell c;
    c.kind = Kind::kNumber;
    c.number = v;
    return c;
  }
  static Cell Int(int64_t v) {
    Cell c;
    c.kind = Kind::kInt;
    c.integer = v;
    return c;
  }
  // Same kind and value (text by content; numbers bit for bit, so a NaN
  // equals itself).
  bool operator==(const Cell& other) const;
};
static_assert(sizeof(Cell) == 16);

// A cell's value owning its text: what code that builds rows by hand (tests,
// benchmarks, rule tests) passes to Snapshot::Store.
struct CellValue {
  Cell::Kind kind = Cell::Kind::kNull;
  double number = 0;
  std::string text;

  static CellValue Null() { return {}; }
  static CellValue Number(double v) { return {Cell::Kind::kNumber, v, {}}; }
  static CellValue Text(std::string v) { return {Cell::Kind::kText, 0, std::move(v)}; }
};

// Append-only storage for the text of a Snapshot's cells: blocks of 64 KiB,
// never moved, so views into it stay valid for the pool's lifetime. Not
// thread-safe while appending.
class TextPool {
 public:
  std::string_view Add(std::string_view text);
  size_t bytes() const { return bytes_; }

 private:
  static constexpr size_t kBlock = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t used_ = kBlock;  // bytes used in blocks_.back()
  size_t bytes_ = 0;
};

using Row = std::vector<Cell>;  // indexed like TableDef::columns

struct TableRows {
  const TableDef* def = nullptr;
  std::vector<Row> rows;
  bool operator==(const TableRows&) const = default;
};

// The sync core's last error of a table (linkwatch_sync_error), if the state
// store has one: shown by `status`, the API and the status page.
struct SyncError {
  std::string profile, entity, error;
  double at = 0;  // epoch seconds
  int64_t attempts = 0;
  // The reason code (docs/sync.md "Breaks": "partition_missing",
  // "round_failed", ...); "" in a store older than schema version 4.
  std::string reason;
  bool operator==(const SyncError&) const = default;
};

// The last break of a table's chain of changes (linkwatch_sync_break): what
// broke, when it was detected, and when the resync that repaired it
// committed (0 while it runs).
struct SyncBreak {
  std::string profile, entity, reason, message;
  double at = 0;           // epoch seconds
  double repaired_at = 0;  // epoch seconds; 0: not repaired yet
  bool operator==(const SyncBreak&) const = default;
};

// The sync core's failed records of a table (linkwatch_sync_failed_record):
// rows left out of the lake because they cannot be written as its types.
struct FailedRecords {
  std::string profile, entity;
  int64_t count = 0;
  std::string latest_reason;
  double latest_at = 0;  // epoch seconds
  bool operator==(const FailedRecords&) const = default;
};

// A stored value that the read turned into null because it does not fit its
// column (see the top of this file). Identifies the value so that the
// watcher can warn once per (source, table, row, column, value).
struct InvalidValue {
  TableId table;
  std::string row_id;  // the row's primary key
  std::string column;
  std::string value;   // the stored value as text (SQLite's rendering)
  std::string reason;  // e.g. "not a number", "out of int64 range"

  // "synapselinkprofileentitystate.lakerecordcount of row <id>: <reason>: \"<value>\""
  std::string ToString() const;
  bool operator==(const InvalidValue&) const = default;
};

struct Snapshot {
  std::array<TableRows, kTableCount> tables;
  std::vector<SyncError> sync_errors;
  std::vector<SyncBreak> sync_breaks;
  std::vector<FailedRecords> failed_records;
  // Values read as null because they do not fit their column.
  std::vector<InvalidValue> invalid_values;

  Snapshot();
  TableRows& operator[](TableId id) { return tables[static_cast<int>(id)]; }
  const TableRows& operator[](TableId id) const { return tables[static_cast<int>(id)]; }

  // A text cell whose text is copied into this snapshot's pool. Only while
  // the snapshot is being built (not once shared across threads).
  Cell Text(std::string_view text);
  Cell Store(const CellValue& value);

  // The same data in every member (the text pool aside): what the rules
  // read is the same. A new member must be compared here (a static_assert
  // on the size in snapshot.cc is the reminder).
  bool operator==(const Snapshot& other) const;

 private:
  std::shared_ptr<TextPool> text_ = std::make_shared<TextPool>();
};

}  // namespace linkwatch::state
