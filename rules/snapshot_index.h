// SnapshotIndex: the joins of contract.md "Subjects and names", resolved once
// per Snapshot and shared by every rule evaluated over it.
//
// For each subject row (entity state, profile or external table state) it
// holds the row index of the joined rows, one slot each:
//   self; profile (the row's profile); entity (the synapselinkprofileentity
//   of the same profile and entityname); external (the
//   synapselinkexternaltablestate with the same entityname whose
//   synapseworkspacename is the profile's name); schedule (the table's own
//   synapselinkschedule, else the profile's Snapshot schedule); sync
//   (linkwatch's own sync record of the table, state::TableId::kSync, by
//   profile name and entityname).
// It also resolves lookup columns to the referenced row, so a bare lookup can
// evaluate to that row's name. Joins are computed only for the slots that
// the rules use (Prepare*), so evaluation does no hashing at all.
//
// The index borrows the Snapshot, which must outlive it. Not thread-safe
// while preparing; safe to read from several threads afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/state/snapshot.h"

namespace linkwatch::rules {

enum class Subject : uint8_t { kEntity = 0, kProfile = 1, kExternal = 2 };
inline constexpr int kSubjectCount = 3;
const char* SubjectName(Subject s);  // "entity", "profile", "external"
state::TableId SubjectTable(Subject s);

enum Slot : uint8_t {
  kSlotSelf = 0,
  kSlotProfile,
  kSlotEntity,
  kSlotExternal,
  kSlotSchedule,
  kSlotSync
};
inline constexpr int kSlotCount = 6;
using JoinRow = std::array<int32_t, kSlotCount>;  // row index per slot, -1 = no such row
inline constexpr uint8_t SlotBit(int slot) { return static_cast<uint8_t>(1u << slot); }

// The table a slot reads for a subject (self is the subject's own table).
state::TableId SlotTable(Subject subject, int slot);

// What a set of rules needs prepared in an index (see Expr::AddNeeds).
struct IndexNeeds {
  std::array<uint8_t, kSubjectCount> slots{};  // join slots per subject
  std::vector<std::pair<state::TableId, int>> lookups;
  // Columns read on the hot path, extracted into dense arrays.
  std::array<std::vector<int>, state::kTableCount> columns;
};

class SnapshotIndex {
 public:
  explicit SnapshotIndex(const state::Snapshot& snap);
  ~SnapshotIndex();
  SnapshotIndex(const SnapshotIndex&) = delete;
  SnapshotIndex& operator=(const SnapshotIndex&) = delete;

  const state::Snapshot& snapshot() const { return snap_; }

  // Computes (once) the join slots in `slot_mask` for every row of `subject`.
  void PrepareJoins(Subject subject, uint8_t slot_mask);
  // Computes (once) the referenced row of lookup column `column` of `table`.
  void PrepareLookup(state::TableId table, int column);
  // Extracts (once) columns of `table` into dense arrays, in one pass over
  // its rows: a Row is a heap block of cells, and reading one column of
  // every row for every rule would miss the cache on every access.
  void PrepareColumns(state::TableId table, const std::vector<int>& columns);
  // Everything in `needs`.
  void Prepare(const IndexNeeds& needs);

  // One JoinRow per subject row; slots not prepared are -1 (self is always set).
  const std::vector<JoinRow>& Joins(Subject subject) const {
    return joins_[static_cast<int>(subject)];
  }
  size_t RowCount(Subject subject) const { return Joins(subject).size(); }

  // The cell, or nullptr when the row is -1 or the row has no such column.
  const state::Cell* CellAt(state::TableId table, int32_t row, int column) const {
    if (row < 0) return nullptr;
    const auto& rows = snap_[table].rows;
    if (static_cast<size_t>(row) >= rows.size()) return nullptr;
    const auto& r = rows[row];
    if (column < 0 || static_cast<size_t>(column) >= r.size()) return nullptr;
    return &r[column];
  }
  // Dense copies of prepared columns (nullptr when not prepared): numbers
  // with NaN for null (and for non-number cells); text with a null data()
  // for null. Indexed by row.
  const double* NumberColumn(state::TableId table, int column) const {
    const auto& v = numbers_[static_cast<int>(table)];
    return static_cast<size_t>(column) < v.size() && !v[column].empty() ? v[column].data()
                                                                        : nullptr;
  }
  const std::string_view* TextColumn(state::TableId table, int column) const {
    const auto& v = texts_[static_cast<int>(table)];
    return static_cast<size_t>(column) < v.size() && !v[column].empty() ? v[column].data()
                                                                        : nullptr;
  }
  // Row referenced by a prepared lookup column, or -1.
  int32_t LookupTarget(state::TableId table, int column, int32_t row) const {
    if (row < 0) return -1;
    const auto& targets = lookups_[static_cast<int>(table)];
    if (static_cast<size_t>(column) >= targets.size()) return -1;
    const auto& v = targets[column];
    return static_cast<size_t>(row) < v.size() ? v[row] : -1;
  }

 private:
  struct Maps;
  int32_t FindById(state::TableId table, std::string_view id);
  void ComputeSlot(Subject subject, int slot);

  const state::Snapshot& snap_;
  std::array<std::vector<JoinRow>, kSubjectCount> joins_;
  std::array<uint8_t, kSubjectCount> prepared_{};
  // [table][column] -> referenced row per row; empty when not prepared.
  std::array<std::vector<std::vector<int32_t>>, state::kTableCount> lookups_;
  std::array<std::vector<std::vector<double>>, state::kTableCount> numbers_;
  std::array<std::vector<std::vector<std::string_view>>, state::kTableCount> texts_;
  std::unique_ptr<Maps> maps_;
};

}  // namespace linkwatch::rules
