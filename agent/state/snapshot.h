// Snapshot: the six state tables read at one moment, typed by schema.h.
// Datetimes are epoch seconds, choices their integer codes, booleans 0/1,
// GUIDs, lookups and strings text. A Snapshot is an immutable value once
// built; share it across threads by const reference or shared_ptr.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/state/schema.h"

namespace linkwatch::state {

struct Cell {
  enum class Kind : uint8_t { kNull, kNumber, kText };
  Kind kind = Kind::kNull;
  double number = 0;
  std::string text;

  bool is_null() const { return kind == Kind::kNull; }
  static Cell Null() { return {}; }
  static Cell Number(double v) { return {Kind::kNumber, v, {}}; }
  static Cell Text(std::string v) { return {Kind::kText, 0, std::move(v)}; }
};

using Row = std::vector<Cell>;  // indexed like TableDef::columns

struct TableRows {
  const TableDef* def = nullptr;
  std::vector<Row> rows;
};

struct Snapshot {
  std::array<TableRows, kTableCount> tables;
  // Problems met while reading (e.g. an unparseable datetime read as null).
  std::vector<std::string> warnings;

  Snapshot();
  TableRows& operator[](TableId id) { return tables[static_cast<int>(id)]; }
  const TableRows& operator[](TableId id) const { return tables[static_cast<int>(id)]; }
};

}  // namespace linkwatch::state
