// The monitor table: what the Synapse Link portal shows per linked table
// (Profile, Table, Sync status, Initial sync, Last synced on, Count,
// Append only, Partition strategy), derived from a Snapshot. Used by
// `linkwatch status`, /api/v1/status and the status page, so the three agree.
// Pure functions over an immutable Snapshot; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/state/snapshot.h"

namespace linkwatch::state {

struct MonitorRow {
  std::string profile;                  // profile name ("" when the lookup is dangling)
  std::string profile_state;            // choice label
  std::string table;                    // entityname
  std::string sync_status;              // syncstate label
  std::string initial_sync;             // initialsyncstate label
  std::optional<double> last_synced;    // lastsynceddatatime, epoch seconds
  std::optional<int64_t> count;         // lakerecordcount (as the portal), exact
  std::optional<int64_t> source_count;  // crmrecordcount, exact
  bool append_only = false;
  std::string partition;   // partition strategy label
  std::string last_error;  // the sync core's last error for the table, "" if none
  std::optional<double> last_error_at;
  std::string error_reason;  // its reason code ("round_failed", "partition_missing", ...)
  // The table's last break (docs/sync.md "Breaks"), "" / nullopt if none;
  // repaired_at stays empty while the repair resync runs.
  std::string last_break_reason, last_break_message;
  std::optional<double> last_break_at, last_break_repaired_at;
  // Source rows left out of the lake (failed records) and the latest reason.
  long long failed_records = 0;
  std::string failed_reason;
};

// Rows sorted by profile then table.
std::vector<MonitorRow> MonitorTable(const Snapshot& snap);

// The label of a choice cell, the code as text for an unknown code, "" for
// null (and for a code that is not a whole int32, which the read nulls).
std::string ChoiceLabel(const ColumnDef& column, const Cell& cell);

}  // namespace linkwatch::state
