#include "agent/state/monitor.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

namespace linkwatch::state {

std::string ChoiceLabel(const ColumnDef& column, const Cell& cell) {
  // A code that is not a whole int32 never leaves the snapshot read (it
  // reads as null); hand-built cells get the same rule here.
  const std::optional<int64_t> code = cell.as_int64();
  if (!code || *code < INT32_MIN || *code > INT32_MAX) return "";
  if (column.choices != nullptr) {
    if (const auto* label = column.choices->LabelOf(static_cast<int>(*code))) {
      return std::string(*label);
    }
  }
  return std::to_string(*code);
}

std::vector<MonitorRow> MonitorTable(const Snapshot& snap) {
  const TableRows& profiles = snap[TableId::kProfile];
  const TableRows& entities = snap[TableId::kProfileEntity];
  const TableRows& states = snap[TableId::kEntityState];
  const TableDef& pd = *profiles.def;
  const TableDef& ed = *entities.def;
  const TableDef& sd = *states.def;

  std::unordered_map<std::string_view, const Row*> profile_by_id;
  for (const auto& r : profiles.rows) profile_by_id[r[0].text()] = &r;
  // profileentity by (profile id, entityname)
  std::unordered_map<std::string, const Row*> entity_by_key;
  const int e_profile = ed.ColumnIndex("profile"), e_name = ed.ColumnIndex("entityname");
  for (const auto& r : entities.rows) {
    entity_by_key[std::string(r[e_profile].text()) + "\n" + std::string(r[e_name].text())] = &r;
  }

  const int s_profile = sd.ColumnIndex("profile"), s_name = sd.ColumnIndex("entityname"),
            s_sync = sd.ColumnIndex("syncstate"), s_initial = sd.ColumnIndex("initialsyncstate"),
            s_last = sd.ColumnIndex("lastsynceddatatime"),
            s_lake = sd.ColumnIndex("lakerecordcount"), s_crm = sd.ColumnIndex("crmrecordcount");
  const int p_name = pd.ColumnIndex("name"), p_state = pd.ColumnIndex("profilestate");
  const int e_append = ed.ColumnIndex("appendonlymode"),
            e_partition = ed.ColumnIndex("partitionstrategy");

  std::vector<MonitorRow> out;
  out.reserve(states.rows.size());
  for (const auto& r : states.rows) {
    MonitorRow m;
    const std::string_view pid = r[s_profile].text();
    if (auto it = profile_by_id.find(pid); it != profile_by_id.end()) {
      m.profile = (*it->second)[p_name].text();
      m.profile_state = ChoiceLabel(pd.columns[p_state], (*it->second)[p_state]);
    }
    m.table = r[s_name].text();
    m.sync_status = ChoiceLabel(sd.columns[s_sync], r[s_sync]);
    m.initial_sync = ChoiceLabel(sd.columns[s_initial], r[s_initial]);
    if (r[s_last].is_number()) m.last_synced = r[s_last].as_double();
    m.count = r[s_lake].as_int64();
    m.source_count = r[s_crm].as_int64();
    if (auto it = entity_by_key.find(std::string(pid) + "\n" + m.table);
        it != entity_by_key.end()) {
      const Row& e = *it->second;
      m.append_only = !e[e_append].is_null() && e[e_append].as_double() != 0;
      m.partition = ChoiceLabel(ed.columns[e_partition], e[e_partition]);
    }
    for (const auto& e : snap.sync_errors) {
      if (e.profile == m.profile && e.entity == m.table) {
        m.last_error = e.error;
        m.last_error_at = e.at;
        m.error_reason = e.reason;
      }
    }
    for (const auto& b : snap.sync_breaks) {
      if (b.profile == m.profile && b.entity == m.table) {
        m.last_break_reason = b.reason;
        m.last_break_message = b.message;
        m.last_break_at = b.at;
        if (b.repaired_at > 0) m.last_break_repaired_at = b.repaired_at;
      }
    }
    for (const auto& f : snap.failed_records) {
      if (f.profile == m.profile && f.entity == m.table) {
        m.failed_records = f.count;
        m.failed_reason = f.latest_reason;
      }
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const MonitorRow& a, const MonitorRow& b) {
    return std::tie(a.profile, a.table) < std::tie(b.profile, b.table);
  });
  return out;
}

}  // namespace linkwatch::state
