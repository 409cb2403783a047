// Test helper: builds state::Snapshot rows by column name, so tests read
// like the state tables ("syncstate" = 2) instead of column positions.
// Header-only; plain values.
#pragma once

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>

#include "agent/state/snapshot.h"

namespace linkwatch::testing {

using CellInit = std::pair<std::string, state::CellValue>;

inline state::CellValue Num(double v) { return state::CellValue::Number(v); }
inline state::CellValue Str(std::string v) { return state::CellValue::Text(std::move(v)); }

inline state::Row& AddRow(state::Snapshot& snap, state::TableId table,
                          std::initializer_list<CellInit> cells) {
  auto& rows = snap[table];
  state::Row row(rows.def->columns.size());
  for (const auto& [name, cell] : cells) {
    const int i = rows.def->ColumnIndex(name);
    if (i < 0) throw std::invalid_argument("no column " + name);
    row[i] = snap.Store(cell);
  }
  rows.rows.push_back(std::move(row));
  return rows.rows.back();
}

}  // namespace linkwatch::testing
