// StateRows: what the sync core writes into the six state tables, at the
// moments of state-tables.md "How the sync core fills them" (link, initial
// sync, every round, a failed round, a table that cannot be synced, table
// removed, unlink), plus linkwatch's own sync bookkeeping (the committed
// cursor and destination marker per table, the last error per table with
// its reason code, the last break per table).
//
// The one home of those writes: the engine, the lifecycle commands and the
// tests all go through it. Each function runs in the caller's transaction
// when one is open (the engine commits a batch's cursor and state rows
// together); otherwise SQLite makes it its own. Functions borrow a Db and
// are as thread-safe as that connection (one thread per Db).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/status.h"
#include "agent/state/db.h"
#include "agent/sync/destination.h"

namespace linkwatch::sync {

// A table linked in a profile, as the state store has it.
struct LinkedTable {
  std::string profile_id, profile_name;
  std::string profileentity_id, entitystate_id;
  std::string entity;
  bool append_only = false;
  bool month_partitions = false;
};

struct LinkedProfile {
  std::string id, name;
  int state = 0;  // profilestate code
  std::vector<LinkedTable> tables;
};

// The committed position of a table.
struct Committed {
  Cursor cursor;  // as the source returned it (opaque)
  std::string marker;
};

// Profile rows by name (any state), with their tables; nullopt if none.
Result<std::optional<LinkedProfile>> ReadProfile(state::Db& db, const std::string& name);
// A generation of what decides which tables are linked (the profiles with
// their names and states, the tables and their state rows): when it is the
// same as at the last look, so is every ReadProfile. One row read, moved by
// any writer's link changes and never by the rounds' and heartbeats' writes.
Result<int64_t> LinkGeneration(state::Db& db);

// Creates the profile's rows (state-tables.md "link"): profile Active,
// database, Snapshot schedule, and one profileentity + entity-state row per
// table. Fails if a profile of that name exists.
Result<LinkedProfile> LinkProfile(state::Db& db, const ProfileConfig& profile, double now);
// Adds one table to a linked profile (NotStarted, additiontime).
Result<LinkedTable> AddTable(state::Db& db, const LinkedProfile& profile, const TableConfig& table,
                             double now);
// Removes a table: profileentity and entity-state rows deleted, its external
// table row Deleted, its cursor, error, last break and failed records
// forgotten. Lake files stay.
Status RemoveTable(state::Db& db, const LinkedTable& table, double now);
// profilestate Deleted (unlink) or Active again (relink).
Status SetProfileState(state::Db& db, const std::string& profile_id, int state, double now);

// Initial sync started: initialsyncstate InProgress (unless it already
// failed: CompletedWithFailures stays until an attempt succeeds), metadata
// Created. A resync that repairs a break (syncstate RequestedInitialData,
// MarkBreak) keeps both states as they are until it commits.
Status MarkInitialStarted(state::Db& db, const LinkedTable& table, double now);
// The initial sync keeps failing: initialsyncstate CompletedWithFailures
// (the engine goes on retrying; success sets Completed).
Status MarkInitialFailed(state::Db& db, const LinkedTable& table, double now);
// The table is synced append only whatever the config said (it has no
// createdon column, lake-format.md): appendonlymode 1.
Status MarkAppendOnly(state::Db& db, const LinkedTable& table, double now);
// A committed round (initial or incremental): the cursor and marker, the
// counts, syncstate InProgress, lastsynceddatatime; with `initial`, also
// initialsyncstate Completed and the initialsync*time columns, and the
// table's last break, if one awaits its repair, repaired now. Clears the
// table's recorded error. Refuses (kTableRemoved) when the table's
// profileentity row is gone: `tables remove` deleted it while the batch
// was in flight, and writing the cursor again would leave an orphan row.
struct RoundResult {
  Committed committed;
  int64_t lake_records = 0;
  int64_t source_records = -1;  // -1: not counted this round
  bool initial = false;
};
Status MarkRound(state::Db& db, const LinkedTable& table, const RoundResult& round, double now);
// What MarkRound records for rounds that found nothing to sync, for many
// tables in one go (the engine's heartbeat of idle tables): the times of
// the state rows move to `now`; cursor (and its updated_at), marker and counts stay
// (an idle table's source is unchanged: its row count still holds, so the
// count's time moves on too).
// Tables no longer linked, or whose state shows an error, are left alone.
Status MarkIdleRounds(state::Db& db, const std::vector<std::string>& profileentity_ids, double now);
// The reason of MarkRound's refusal for a removed table: the worker stops
// quietly (the supervisor is about to stop it anyway).
inline constexpr const char* kTableRemoved = "table_removed";
// A table that cannot be synced at all: metadatastate Failure, syncstate
// NotStarted, the error recorded with its reason code.
Status MarkUnsyncable(state::Db& db, const LinkedTable& table, const std::string& error, double now,
                      const std::string& reason = "unsyncable");
// A break in the chain of changes (Status::Break, docs/sync.md "Breaks"):
// the committed cursor and marker are forgotten, so that the table is
// resynced (now, or after a crash or restart), syncstate RequestedInitialData
// while the resync runs (initialsyncstate stays as it was), the error
// recorded (reason `reason`), and the break kept as the table's last break
// (linkwatch_sync_break) until MarkRound of the resync marks it repaired.
Status MarkBreak(state::Db& db, const LinkedTable& table, const std::string& reason,
                 const std::string& error, double now);
// A failed round: only the error is recorded, with its reason code (the six
// tables are left as they are, so a stall shows as an ageing
// lastsynceddatatime).
//
// Error and break rows are only written while the table's profileentity
// row exists, so that a failure in flight when `tables remove` ran leaves
// nothing behind.
Status RecordError(state::Db& db, const LinkedTable& table, const std::string& error, double now,
                   const std::string& reason = "round_failed");

// A snapshot was taken: the table's external-table row (one per table per
// profile) Created, with its record count, time and highest version.
Status MarkSnapshot(state::Db& db, const LinkedTable& table, int64_t records, int64_t max_version,
                    double now);
// When the table's last snapshot was taken (epoch seconds), 0 if never.
Result<double> LastSnapshot(state::Db& db, const LinkedTable& table);

// Where the config and the state store disagree (contract.md "Who decides
// what is linked"): profiles not linked yet, tables in the config but not
// linked, tables linked but not in the config. One sentence each, with the
// command that reconciles them.
Result<std::vector<std::string>> LinkNotes(state::Db& db,
                                           const std::vector<ProfileConfig>& profiles,
                                           const std::string& config_path);

// Failed records (docs/sync.md "Failed records"): source rows the
// destination left out. An initial sync replaces the table's set
// (`replace_all`); a round upserts its failures after forgetting the Ids
// that synced fine (or were deleted).
Status RecordFailedRecords(state::Db& db, const LinkedTable& table,
                           const std::vector<FailedRecord>& failed,
                           const std::vector<std::string>& synced_ids, bool replace_all,
                           double now);
// How many failed records a table has.
Result<int64_t> CountFailedRecords(state::Db& db, const LinkedTable& table);

// The committed cursor of a table; nullopt before its initial sync.
Result<std::optional<Committed>> ReadCommitted(state::Db& db, const LinkedTable& table);
// The state row's crmrecordcount and lakerecordcount; nullopt when either
// is null (never counted).
struct RecordCounts {
  int64_t source = 0, lake = 0;
};
Result<std::optional<RecordCounts>> ReadRecordCounts(state::Db& db, const LinkedTable& table);

// Names of the profiles the state store has linked (profilestate other than
// Deleted), sorted; LinkNotes names those the config no longer has. With
// `synced_only`, only those linkwatch has synced (a cursor or error row):
// profile rows other tools wrote into a watched store are not linkwatch's.
Result<std::vector<std::string>> LinkedProfileNames(state::Db& db, bool synced_only);
// The destination a profile was linked with (synapselinkprofile.
// datalakefolder, the resolved path of its lake); "" when not recorded. The
// lifecycle commands check a folder against it before deleting anything,
// and take it from here for a profile no longer in the config.
Result<std::string> ReadDestinationFolder(state::Db& db, const std::string& profile_id);
// Records a new destination (relink with a config whose destination moved).
Status SetDestinationFolder(state::Db& db, const LinkedProfile& profile, const std::string& folder,
                            double now);

}  // namespace linkwatch::sync
