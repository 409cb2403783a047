// The six Synapse Link state tables as data: names, columns, types and choice
// codes exactly as state-tables.md. This is the one home of those facts: the
// SQLite DDL, the typed reader, the rule type checker and the Dataverse source
// all read them from here. Also the shape of linkwatch's own per-table sync
// record (TableId::kSync), which rules join like a seventh table.
// Immutable static data; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace linkwatch::state {

enum class ColumnType {
  kGuid,  // lower-case GUID text
  kString,
  kInt,       // int32/int64
  kBool,      // 0/1
  kDateTime,  // ISO-8601 UTC text in SQLite
  kChoice,    // integer code; labels in ChoiceSet
  kLookup,    // id of a row in another state table
};

struct ChoiceOption {
  int code;
  std::string_view label;
};

struct ChoiceSet {
  std::string_view name;
  std::vector<ChoiceOption> options;

  // Case-insensitive label lookup.
  std::optional<int> CodeOf(std::string_view label) const;
  // nullptr for an unknown code.
  const std::string_view* LabelOf(int code) const;
  bool HasCode(int code) const { return LabelOf(code) != nullptr; }
};

enum class TableId {
  kProfile = 0,
  kProfileEntity = 1,
  kEntityState = 2,
  kExternalTableState = 3,
  kSchedule = 4,
  kDatabase = 5,
  // Not a Synapse Link table: linkwatch's own per-table sync record (the
  // current error of linkwatch_sync_error and the last break of
  // linkwatch_sync_break), one row per table that has either, read into a
  // Snapshot so that rules can join it (`sync.<col>`) and rule tests can give
  // rows for it (`linkwatch_sync`). A Dataverse source has no rows.
  kSync = 6,
};
inline constexpr int kTableCount = 7;  // the six state tables and kSync

struct ColumnDef {
  ColumnDef(std::string_view n, ColumnType t, const ChoiceSet* c = nullptr,
            std::optional<TableId> lookup = std::nullopt)
      : name(n), type(t), choices(c), lookup_table(lookup) {}
  std::string_view name;
  ColumnType type;
  const ChoiceSet* choices = nullptr;   // kChoice only
  std::optional<TableId> lookup_table;  // kLookup only
};

struct TableDef {
  TableId id;
  std::string_view name;           // logical name, e.g. "synapselinkprofile"
  std::string_view entity_set;     // Web API entity set, e.g. "synapselinkprofiles"
  std::vector<ColumnDef> columns;  // columns[0] is the primary key "<name>id"

  // Index into columns, or -1.
  int ColumnIndex(std::string_view column) const;
};

// Table(id) covers kSync too; AllTables() and FindTable() are the six
// Synapse Link tables only (DDL, the Web API, the typed read).
const TableDef& Table(TableId id);
const std::vector<TableDef>& AllTables();
const TableDef* FindTable(std::string_view name);
// The kSync pseudo-table "linkwatch_sync": linkwatch_syncid, profile (the
// profile's name), entityname, error, errorreason, errortime,
// errorattempts, lastbreakreason, lastbreakmessage, lastbreaktime,
// lastrepairtime (null while the repair resync runs).
const TableDef& SyncTable();

// Choice sets by their Dataverse option-set names.
const ChoiceSet& ProfileStateChoices();        // synapselinkprofilestate
const ChoiceSet& EntitySyncStateChoices();     // synapselinkentitysyncstate
const ChoiceSet& ExternalTableStateChoices();  // synapselinkexternaltablestate
const ChoiceSet& MetadataStateChoices();
const ChoiceSet& PartitionStrategyChoices();

// Well-known codes used by linkwatch itself.
namespace codes {
inline constexpr int kProfileInactive = 0, kProfileActive = 1, kProfileError = 2,
                     kProfileDeleted = 3, kProfileAborted = 5, kProfileSuspended = 6;
inline constexpr int kSyncNone = 0, kSyncNotStarted = 1, kSyncInProgress = 2, kSyncCompleted = 4,
                     kSyncCompletedWithFailures = 8;
inline constexpr int kMetadataFailure = 16, kMetadataCreated = 8;
inline constexpr int kExternalCreated = 1, kExternalFailed = 2, kExternalDeleted = 3;
}  // namespace codes

}  // namespace linkwatch::state
