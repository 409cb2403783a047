// Snapshot: the six state tables read at one moment, typed by schema.h.
// Datetimes are epoch seconds, choices their integer codes, booleans 0/1,
// GUIDs, lookups and strings text. A Snapshot is an immutable value once
// built; share it across threads by const reference or shared_ptr.
//
// Memory: a Cell is 16 bytes and its text lives in the Snapshot's TextPool,
// so 10,000 entities (about 50 columns each over three tables) cost a few MB
// rather than tens (a cell with a std::string was 48 bytes plus a heap block
// per GUID).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/state/schema.h"

namespace linkwatch::state {

// One value of a row. Text cells point into a TextPool (see Snapshot::Text),
// which must outlive them; copies of a Snapshot share its pool.
struct Cell {
  enum class Kind : uint8_t { kNull, kNumber, kText };
  Kind kind = Kind::kNull;
  uint32_t size = 0;  // text bytes
  union {
    double number = 0;  // kNumber
    const char* data;   // kText
  };

  bool is_null() const { return kind == Kind::kNull; }
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
};

// The sync core's last error of a table (linkwatch_sync_error), if the state
// store has one: shown by `status`, the API and the status page.
struct SyncError {
  std::string profile, entity, error;
  double at = 0;  // epoch seconds
  int64_t attempts = 0;
};

// The sync core's failed records of a table (linkwatch_sync_failed_record):
// rows left out of the lake because they cannot be written as its types.
struct FailedRecords {
  std::string profile, entity;
  int64_t count = 0;
  std::string latest_reason;
  double latest_at = 0;  // epoch seconds
};

struct Snapshot {
  std::array<TableRows, kTableCount> tables;
  std::vector<SyncError> sync_errors;
  std::vector<FailedRecords> failed_records;
  // Problems met while reading (e.g. an unparseable datetime read as null).
  std::vector<std::string> warnings;

  Snapshot();
  TableRows& operator[](TableId id) { return tables[static_cast<int>(id)]; }
  const TableRows& operator[](TableId id) const { return tables[static_cast<int>(id)]; }

  // A text cell whose text is copied into this snapshot's pool. Only while
  // the snapshot is being built (not once shared across threads).
  Cell Text(std::string_view text);
  Cell Store(const CellValue& value);

 private:
  std::shared_ptr<TextPool> text_ = std::make_shared<TextPool>();
};

}  // namespace linkwatch::state
