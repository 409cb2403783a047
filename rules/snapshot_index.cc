#include "rules/snapshot_index.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "agent/core/text.h"

namespace linkwatch::rules {
namespace {

using state::Cell;
using state::Row;
using state::TableId;

// Ids, names and entity names match case-insensitively: other tools may
// write GUIDs in upper case, and Dataverse names are case-insensitive
// (EqualsIgnoreCase, agent/core/text.h).

// A fast case-insensitive hash: 8 bytes at a time with the ASCII case bit
// set (which folds A-Z onto a-z; the few punctuation pairs it also folds
// only collide, equality is still exact).
inline uint64_t Mix(uint64_t h, uint64_t w) {
  h ^= w;
  h *= 0x9E3779B97F4A7C15ULL;
  return h ^ (h >> 29);
}
inline uint64_t HashFolded(uint64_t h, std::string_view s) {
  constexpr uint64_t kCase = 0x2020202020202020ULL;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = Mix(h, w | kCase);
  }
  uint64_t tail = 0;
  for (size_t k = 0; i + k < s.size(); ++k) {
    tail |= static_cast<uint64_t>(static_cast<unsigned char>(s[i + k]) | 0x20) << (8 * k);
  }
  return Mix(h, tail ^ (static_cast<uint64_t>(s.size()) << 56));
}

struct PairKey {
  std::string_view a, b;
};
// The slot is taken from the low bits: finish with murmur3's fmix64 so that
// keys differing only in their last characters (GUIDs) spread over them.
inline uint64_t HashKey(const PairKey& k) {
  uint64_t h = HashFolded(HashFolded(0x12345678, k.a), k.b);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

// Software prefetching for scans over rows: a Row is its own heap block
// and text lives in the snapshot's pool, so each row costs a few dependent cache
// misses; asking for the cell 16 rows ahead and its text 8 rows ahead hides
// most of that latency.
inline void PrefetchCell(const std::vector<Row>& rows, size_t r, int col) {
  if (r < rows.size() && col >= 0 && static_cast<size_t>(col) < rows[r].size()) {
    __builtin_prefetch(&rows[r][col]);
  }
}
inline void PrefetchText(const std::vector<Row>& rows, size_t r, int col) {
  if (r < rows.size() && col >= 0 && static_cast<size_t>(col) < rows[r].size()) {
    __builtin_prefetch(rows[r][col].data);
  }
}
inline void Prefetch(const std::vector<Row>& rows, size_t r, int col) {
  PrefetchCell(rows, r + 16, col);
  PrefetchText(rows, r + 8, col);
}

inline std::string_view TextOf(const Row& r, int col) {
  if (col < 0 || static_cast<size_t>(col) >= r.size()) return {};
  const Cell& c = r[col];
  return c.text();
}

std::optional<double> NumberOf(const Row& r, int col) {
  if (col < 0 || static_cast<size_t>(col) >= r.size()) return std::nullopt;
  const Cell& c = r[col];
  if (!c.is_number()) return std::nullopt;
  return c.as_double();
}

// An open-addressing index of a table's rows by one or two text columns
// (col_b may be -1). Slots hold the hash and views of the key, so a probe
// touches neither the other table's row nor its cells; no allocation per row.
class FlatMap {
 public:
  // `prefer(old_row, new_row)`: whether a later row with the same key wins.
  template <typename Prefer>
  FlatMap(const std::vector<Row>& rows, int col_a, int col_b, Prefer prefer) {
    size_t cap = 16;
    while (cap < rows.size() * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (size_t r = 0; r < rows.size(); ++r) {
      PrefetchCell(rows, r + 16, col_a);
      PrefetchText(rows, r + 8, col_a);
      const auto row = static_cast<int32_t>(r);
      const PairKey k{TextOf(rows[r], col_a),
                      col_b < 0 ? std::string_view() : TextOf(rows[r], col_b)};
      if (k.a.empty()) continue;
      const uint64_t h = HashKey(k);
      size_t i = h & mask_;
      for (; slots_[i].row >= 0; i = (i + 1) & mask_) {
        if (slots_[i].hash == h && slots_[i].Same(k)) break;
      }
      if (slots_[i].row < 0) {
        slots_[i] = Slot{h, k.a, k.b, row};
      } else if (prefer(slots_[i].row, row)) {
        slots_[i].row = row;
      }
    }
  }
  int32_t Find(const PairKey& k) const {
    if (k.a.empty()) return -1;
    return FindHashed(k, HashKey(k));
  }
  int32_t FindHashed(const PairKey& k, uint64_t h) const {
    for (size_t i = h & mask_; slots_[i].row >= 0; i = (i + 1) & mask_) {
      if (slots_[i].hash == h && slots_[i].Same(k)) return slots_[i].row;
    }
    return -1;
  }
  // Finds many keys with the probes pipelined: slot lines are prefetched 8
  // keys ahead and the stored key text 4 ahead, so the misses overlap.
  void FindMany(const std::vector<PairKey>& keys, std::vector<int32_t>& out) const {
    std::vector<uint64_t> hashes(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) hashes[i] = keys[i].a.empty() ? 0 : HashKey(keys[i]);
    out.assign(keys.size(), -1);
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i + 8 < keys.size()) __builtin_prefetch(&slots_[hashes[i + 8] & mask_]);
      if (i + 4 < keys.size()) {
        const Slot& ahead = slots_[hashes[i + 4] & mask_];
        if (ahead.row >= 0) __builtin_prefetch(ahead.a.data());
      }
      if (!keys[i].a.empty()) out[i] = FindHashed(keys[i], hashes[i]);
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    std::string_view a, b;
    int32_t row = -1;
    bool Same(const PairKey& k) const {
      return EqualsIgnoreCase(a, k.a) && EqualsIgnoreCase(b, k.b);
    }
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

bool FirstWins(int32_t, int32_t) { return false; }

int Col(TableId t, std::string_view name) { return state::Table(t).ColumnIndex(name); }

// Column indexes used by the joins, looked up once.
struct Cols {
  int profile_name = Col(TableId::kProfile, "name");
  int profile_state = Col(TableId::kProfile, "profilestate");
  int pe_profile = Col(TableId::kProfileEntity, "profile");
  int pe_entityname = Col(TableId::kProfileEntity, "entityname");
  int es_profile = Col(TableId::kEntityState, "profile");
  int es_profileentity = Col(TableId::kEntityState, "profileentity");
  int es_entityname = Col(TableId::kEntityState, "entityname");
  int ext_entityname = Col(TableId::kExternalTableState, "entityname");
  int ext_workspace = Col(TableId::kExternalTableState, "synapseworkspacename");
  int ext_tablestate = Col(TableId::kExternalTableState, "tablestate");
  int sch_profile = Col(TableId::kSchedule, "profile");
  int sch_entityname = Col(TableId::kSchedule, "entityname");
  int sch_type = Col(TableId::kSchedule, "type");
  int sync_profile = Col(TableId::kSync, "profile");
  int sync_entityname = Col(TableId::kSync, "entityname");
};
const Cols& C() {
  static const Cols cols;
  return cols;
}

constexpr double kDeleted = 3;  // profilestate Deleted and externaltablestate Deleted

}  // namespace

struct SnapshotIndex::Maps {
  std::array<std::optional<FlatMap>, state::kTableCount> by_id;
  std::optional<FlatMap> profile_by_name;
  std::optional<FlatMap> entity_by_profile_and_name;
  std::optional<FlatMap> external_by_workspace_and_name;
  std::optional<FlatMap> schedule_by_profile_and_name;  // per-table schedules
  std::optional<FlatMap> sync_by_profile_and_name;
  std::vector<int32_t> snapshot_schedule_of_profile;  // per profile row
};

const char* SubjectName(Subject s) {
  switch (s) {
    case Subject::kEntity:
      return "entity";
    case Subject::kProfile:
      return "profile";
    case Subject::kExternal:
      return "external";
  }
  return "entity";
}

TableId SubjectTable(Subject s) {
  switch (s) {
    case Subject::kProfile:
      return TableId::kProfile;
    case Subject::kExternal:
      return TableId::kExternalTableState;
    default:
      return TableId::kEntityState;
  }
}

TableId SlotTable(Subject subject, int slot) {
  switch (slot) {
    case kSlotProfile:
      return TableId::kProfile;
    case kSlotEntity:
      return TableId::kProfileEntity;
    case kSlotExternal:
      return TableId::kExternalTableState;
    case kSlotSchedule:
      return TableId::kSchedule;
    case kSlotSync:
      return TableId::kSync;
    default:
      return SubjectTable(subject);
  }
}

SnapshotIndex::SnapshotIndex(const state::Snapshot& snap)
    : snap_(snap), maps_(std::make_unique<Maps>()) {
  for (int s = 0; s < kSubjectCount; ++s) {
    const auto subject = static_cast<Subject>(s);
    const size_t n = snap_[SubjectTable(subject)].rows.size();
    auto& joins = joins_[s];
    joins.resize(n);
    for (size_t r = 0; r < n; ++r) {
      joins[r].fill(-1);
      joins[r][kSlotSelf] = static_cast<int32_t>(r);
    }
    prepared_[s] = SlotBit(kSlotSelf);
  }
  for (int t = 0; t < state::kTableCount; ++t) {
    lookups_[t].resize(state::Table(static_cast<TableId>(t)).columns.size());
  }
}

SnapshotIndex::~SnapshotIndex() = default;

void SnapshotIndex::Prepare(const IndexNeeds& needs) {
  for (int s = 0; s < kSubjectCount; ++s) {
    if (needs.slots[s]) PrepareJoins(static_cast<Subject>(s), needs.slots[s]);
  }
  for (const auto& [table, column] : needs.lookups) PrepareLookup(table, column);
  for (int t = 0; t < state::kTableCount; ++t) {
    if (!needs.columns[t].empty()) PrepareColumns(static_cast<TableId>(t), needs.columns[t]);
  }
}

void SnapshotIndex::PrepareColumns(TableId table, const std::vector<int>& columns) {
  const auto& def = state::Table(table);
  const auto& rows = snap_[table].rows;
  auto& numbers = numbers_[static_cast<int>(table)];
  auto& texts = texts_[static_cast<int>(table)];
  numbers.resize(def.columns.size());
  texts.resize(def.columns.size());
  std::vector<int> num_cols, text_cols;
  for (int c : columns) {
    if (c < 0 || static_cast<size_t>(c) >= def.columns.size() || rows.empty()) continue;
    const auto type = def.columns[c].type;
    const bool text = type == state::ColumnType::kString || type == state::ColumnType::kGuid ||
                      type == state::ColumnType::kLookup;
    auto& list = text ? text_cols : num_cols;
    if ((text ? texts[c].empty() : numbers[c].empty()) &&
        std::find(list.begin(), list.end(), c) == list.end()) {
      list.push_back(c);
    }
  }
  if (num_cols.empty() && text_cols.empty()) return;
  for (int c : num_cols) numbers[c].resize(rows.size());
  for (int c : text_cols) texts[c].resize(rows.size());
  constexpr double kNull = std::numeric_limits<double>::quiet_NaN();
  // One pass, row by row: each row's cells are read while in cache.
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r + 4 < rows.size()) {
      for (int c : num_cols) PrefetchCell(rows, r + 4, c);
      for (int c : text_cols) PrefetchCell(rows, r + 4, c);
    }
    const Row& row = rows[r];
    for (int c : num_cols) {
      const Cell* cell = static_cast<size_t>(c) < row.size() ? &row[c] : nullptr;
      numbers[c][r] = cell && cell->is_number() ? cell->as_double() : kNull;
    }
    for (int c : text_cols) {
      const Cell* cell = static_cast<size_t>(c) < row.size() ? &row[c] : nullptr;
      texts[c][r] = cell && cell->kind == Cell::Kind::kText ? cell->text() : std::string_view();
    }
  }
}

int32_t SnapshotIndex::FindById(TableId table, std::string_view id) {
  if (id.empty()) return -1;
  auto& map = maps_->by_id[static_cast<int>(table)];
  if (!map) map.emplace(snap_[table].rows, 0, -1, FirstWins);
  return map->Find(PairKey{id, {}});
}

void SnapshotIndex::PrepareLookup(TableId table, int column) {
  const auto& def = state::Table(table);
  if (column < 0 || static_cast<size_t>(column) >= def.columns.size()) return;
  const auto& col = def.columns[column];
  if (col.type != state::ColumnType::kLookup || !col.lookup_table) return;
  auto& targets = lookups_[static_cast<int>(table)][column];
  const auto& rows = snap_[table].rows;
  if (!targets.empty() || rows.empty()) return;
  targets.resize(rows.size());
  const auto& target_rows = snap_[*col.lookup_table].rows;
  // Consecutive rows usually reference the same row (tables of one profile)
  // or the next one (tables written in the same order): try those before
  // hashing, since every string compared here is a likely cache miss. The
  // rest are looked up together afterwards, with their probes pipelined.
  std::vector<PairKey> misses;
  std::vector<size_t> miss_rows;
  std::string_view last_key;
  int32_t last = -1;
  for (size_t r = 0; r < rows.size(); ++r) {
    Prefetch(rows, r, column);
    if (last >= 0) Prefetch(target_rows, static_cast<size_t>(last) + 1, 0);  // the guess
    std::string_view key = TextOf(rows[r], column);
    if (r > 0 && key == last_key) {
      targets[r] = last;
      continue;
    }
    last_key = key;
    const auto next = static_cast<size_t>(last + 1);
    if (key.empty()) {
      last = -1;
    } else if (next < target_rows.size() && TextOf(target_rows[next], 0) == key) {
      last = static_cast<int32_t>(next);
    } else {
      misses.push_back(PairKey{key, {}});
      miss_rows.push_back(r);
      last = -2;  // resolved below; never equal to a real guess
    }
    targets[r] = last;
  }
  if (!misses.empty()) {
    auto& map = maps_->by_id[static_cast<int>(*col.lookup_table)];
    if (!map) map.emplace(target_rows, 0, -1, FirstWins);
    std::vector<int32_t> found;
    map->FindMany(misses, found);
    for (size_t i = 0; i < misses.size(); ++i) targets[miss_rows[i]] = found[i];
    // Rows that repeated a missed key took its placeholder: copy forward.
    for (size_t r = 1; r < rows.size(); ++r) {
      if (targets[r] == -2) targets[r] = targets[r - 1];
    }
  }
}

void SnapshotIndex::PrepareJoins(Subject subject, uint8_t slot_mask) {
  const int s = static_cast<int>(subject);
  // Every join goes through the row's profile.
  if (slot_mask & (SlotBit(kSlotEntity) | SlotBit(kSlotExternal) | SlotBit(kSlotSchedule) |
                   SlotBit(kSlotSync))) {
    slot_mask |= SlotBit(kSlotProfile);
  }
  for (int slot : {kSlotProfile, kSlotEntity, kSlotExternal, kSlotSchedule, kSlotSync}) {
    if ((slot_mask & SlotBit(slot)) && !(prepared_[s] & SlotBit(slot))) {
      ComputeSlot(subject, slot);
      prepared_[s] |= SlotBit(slot);
    }
  }
}

void SnapshotIndex::ComputeSlot(Subject subject, int slot) {
  const Cols& c = C();
  Maps& m = *maps_;
  auto& joins = joins_[static_cast<int>(subject)];
  const auto& subject_rows = snap_[SubjectTable(subject)].rows;
  const auto& profiles = snap_[TableId::kProfile].rows;

  // The entity name of subject row r, and the id of its profile row.
  const int name_col = subject == Subject::kEntity     ? c.es_entityname
                       : subject == Subject::kExternal ? c.ext_entityname
                                                       : -1;
  auto entity_name = [&](size_t r) { return TextOf(subject_rows[r], name_col); };
  auto profile_id = [&](size_t r) -> std::string_view {
    const int32_t p = joins[r][kSlotProfile];
    return p < 0 ? std::string_view() : TextOf(profiles[p], 0);
  };

  switch (slot) {
    case kSlotProfile: {
      if (subject == Subject::kProfile) {
        for (auto& j : joins) j[kSlotProfile] = j[kSlotSelf];
      } else if (subject == Subject::kEntity) {
        PrepareLookup(TableId::kEntityState, c.es_profile);
        const auto& targets = lookups_[static_cast<int>(TableId::kEntityState)][c.es_profile];
        for (size_t r = 0; r < joins.size() && r < targets.size(); ++r) {
          joins[r][kSlotProfile] = targets[r];
        }
      } else {
        // External tables name their profile by its name (the workspace name);
        // a live profile wins over a soft-deleted one of the same name.
        if (!m.profile_by_name) {
          m.profile_by_name.emplace(profiles, c.profile_name, -1, [&](int32_t old, int32_t now) {
            return NumberOf(profiles[old], c.profile_state) == kDeleted &&
                   NumberOf(profiles[now], c.profile_state) != kDeleted;
          });
        }
        std::string_view last_key;
        int32_t last = -1;
        for (size_t r = 0; r < joins.size(); ++r) {
          std::string_view key = TextOf(subject_rows[r], c.ext_workspace);
          if (r == 0 || key != last_key) {
            last = m.profile_by_name->Find(PairKey{key, {}});
            last_key = key;
          }
          joins[r][kSlotProfile] = last;
        }
      }
      break;
    }
    case kSlotEntity: {
      if (subject == Subject::kProfile) break;
      const auto& pe_rows = snap_[TableId::kProfileEntity].rows;
      auto by_name = [&](std::string_view pid, std::string_view name) -> int32_t {
        if (pid.empty()) return -1;
        if (!m.entity_by_profile_and_name) {
          m.entity_by_profile_and_name.emplace(pe_rows, c.pe_profile, c.pe_entityname, FirstWins);
        }
        return m.entity_by_profile_and_name->Find(PairKey{pid, name});
      };
      if (subject == Subject::kEntity) PrepareLookup(TableId::kEntityState, c.es_profileentity);
      for (size_t r = 0; r < joins.size(); ++r) {
        PrefetchCell(subject_rows, r + 8, name_col);
        if (subject == Subject::kEntity && r + 8 < joins.size()) {
          const int32_t ahead =
              LookupTarget(TableId::kEntityState, c.es_profileentity, static_cast<int32_t>(r + 8));
          if (ahead >= 0) PrefetchCell(pe_rows, static_cast<size_t>(ahead), c.pe_entityname);
        }
        const std::string_view name = entity_name(r);
        int32_t found = -1;
        if (subject == Subject::kEntity) {
          const std::string_view pid = TextOf(subject_rows[r], c.es_profile);
          // The sync core fills the profileentity lookup: use it when it
          // agrees with the contract's join (same profile and entityname).
          const int32_t t =
              LookupTarget(TableId::kEntityState, c.es_profileentity, static_cast<int32_t>(r));
          // (Its profile is the row's profile: the lookup is an explicit
          // reference, and comparing the profile GUIDs would cost two more
          // cache misses per row.)
          if (t >= 0 && EqualsIgnoreCase(TextOf(pe_rows[t], c.pe_entityname), name)) {
            found = t;
          } else {
            found = by_name(pid, name);
            // Rows written by other tools may only carry the lookup.
            if (found < 0) found = t;
          }
        } else {
          found = by_name(profile_id(r), name);
        }
        joins[r][kSlotEntity] = found;
      }
      break;
    }
    case kSlotExternal: {
      if (subject == Subject::kProfile) break;
      if (subject == Subject::kExternal) {
        for (auto& j : joins) j[kSlotExternal] = j[kSlotSelf];
        break;
      }
      const auto& ext_rows = snap_[TableId::kExternalTableState].rows;
      // A removed table leaves a Deleted row behind; a re-added one wins.
      auto build_map = [&] {
        m.external_by_workspace_and_name.emplace(
            ext_rows, c.ext_workspace, c.ext_entityname, [&](int32_t old, int32_t now) {
              return NumberOf(ext_rows[old], c.ext_tablestate) == kDeleted &&
                     NumberOf(ext_rows[now], c.ext_tablestate) != kDeleted;
            });
      };
      std::vector<PairKey> misses;
      std::vector<size_t> miss_rows;
      int32_t last = -1;
      for (size_t r = 0; r < joins.size(); ++r) {
        PrefetchCell(subject_rows, r + 8, name_col);
        if (last >= 0) {
          PrefetchCell(ext_rows, static_cast<size_t>(last) + 8, c.ext_entityname);
          PrefetchCell(ext_rows, static_cast<size_t>(last) + 8, c.ext_workspace);
        }
        const int32_t p = joins[r][kSlotProfile];
        if (p < 0) continue;
        const PairKey key{TextOf(profiles[p], c.profile_name), entity_name(r)};
        const auto next = static_cast<size_t>(last + 1);
        if (last >= -1 && next < ext_rows.size() &&
            EqualsIgnoreCase(TextOf(ext_rows[next], c.ext_entityname), key.b) &&
            EqualsIgnoreCase(TextOf(ext_rows[next], c.ext_workspace), key.a) &&
            NumberOf(ext_rows[next], c.ext_tablestate) != kDeleted) {
          last = static_cast<int32_t>(next);
          joins[r][kSlotExternal] = last;
        } else {
          misses.push_back(key);
          miss_rows.push_back(r);
          last = -2;
        }
      }
      if (!misses.empty()) {
        if (!m.external_by_workspace_and_name) build_map();
        std::vector<int32_t> found;
        m.external_by_workspace_and_name->FindMany(misses, found);
        for (size_t i = 0; i < misses.size(); ++i) joins[miss_rows[i]][kSlotExternal] = found[i];
      }
      break;
    }
    case kSlotSchedule: {
      const auto& rows = snap_[TableId::kSchedule].rows;
      if (!m.schedule_by_profile_and_name) {
        m.schedule_by_profile_and_name.emplace(rows, c.sch_profile, c.sch_entityname, FirstWins);
        m.snapshot_schedule_of_profile.assign(profiles.size(), -1);
        for (size_t r = 0; r < rows.size(); ++r) {
          if (!TextOf(rows[r], c.sch_entityname).empty()) continue;
          if (NumberOf(rows[r], c.sch_type) != 0.0) continue;  // Snapshot schedules only
          const int32_t p = FindById(TableId::kProfile, TextOf(rows[r], c.sch_profile));
          if (p >= 0 && m.snapshot_schedule_of_profile[p] < 0) {
            m.snapshot_schedule_of_profile[p] = static_cast<int32_t>(r);
          }
        }
      }
      // Per-table schedules are rare: only look for them when there are some.
      bool per_table = false;
      for (const auto& row : rows) per_table |= !TextOf(row, c.sch_entityname).empty();
      for (size_t r = 0; r < joins.size(); ++r) {
        const int32_t p = joins[r][kSlotProfile];
        if (p < 0) continue;
        int32_t found = -1;
        if (per_table) {
          const std::string_view name = entity_name(r);
          if (!name.empty())
            found = m.schedule_by_profile_and_name->Find(PairKey{profile_id(r), name});
        }
        joins[r][kSlotSchedule] = found >= 0 ? found : m.snapshot_schedule_of_profile[p];
      }
      break;
    }
    case kSlotSync: {
      // linkwatch's sync record names the profile by its name; few tables
      // have one (only those with an error or a break), so one map lookup
      // per row is cheap enough.
      if (subject == Subject::kProfile) break;
      const auto& rows = snap_[TableId::kSync].rows;
      if (rows.empty()) break;
      if (!m.sync_by_profile_and_name) {
        m.sync_by_profile_and_name.emplace(rows, c.sync_profile, c.sync_entityname, FirstWins);
      }
      for (size_t r = 0; r < joins.size(); ++r) {
        const int32_t p = joins[r][kSlotProfile];
        if (p < 0) continue;
        joins[r][kSlotSync] = m.sync_by_profile_and_name->Find(
            PairKey{TextOf(profiles[p], c.profile_name), entity_name(r)});
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace linkwatch::rules
