// Helpers for rule tests: build in-memory Snapshots row by row.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "agent/core/time_format.h"
#include "agent/state/snapshot.h"

namespace linkwatch::rules::testing {

inline state::CellValue N(double v) { return state::CellValue::Number(v); }
inline state::CellValue T(std::string v) { return state::CellValue::Text(std::move(v)); }
inline state::CellValue D(std::string_view iso) {
  return state::CellValue::Number(*ParseDateTime(iso));
}

// Appends a row (missing columns null) and returns its index. A row without
// an id gets "<table>-<index>".
inline int AddRow(state::Snapshot& snap, state::TableId table,
                  std::initializer_list<std::pair<std::string_view, state::CellValue>> cells) {
  auto& t = snap[table];
  state::Row row(t.def->columns.size());
  for (const auto& [name, cell] : cells) {
    const int col = t.def->ColumnIndex(name);
    if (col < 0) throw std::runtime_error("no column " + std::string(name));
    row[col] = snap.Store(cell);
  }
  if (row[0].is_null()) {
    row[0] = snap.Text(std::string(t.def->name) + "-" + std::to_string(t.rows.size()));
  }
  t.rows.push_back(std::move(row));
  return static_cast<int>(t.rows.size() - 1);
}

inline std::string Id(const state::Snapshot& snap, state::TableId table, int row) {
  return std::string(snap[table].rows[row][0].text());
}

}  // namespace linkwatch::rules::testing
