#include "agent/sync/state_rows.h"

#include <nlohmann/json.hpp>

#include "agent/core/time_format.h"
#include "agent/state/schema.h"
#include "agent/state/state_store.h"

namespace linkwatch::sync {
namespace {

namespace codes = state::codes;
using state::Db;

// Prepared once per connection (Db::Cached): the idle tick writes every
// parked table's heartbeat with the same statement each sync_interval.
Status Run(Db& db, const std::string& sql, const std::vector<std::optional<std::string>>& args) {
  state::Statement* st = db.Cached(sql);
  if (st == nullptr) return Status::Error(db.LastError() + " in: " + sql);
  for (size_t i = 0; i < args.size(); ++i) st->Bind(static_cast<int>(i) + 1, args[i]);
  return st->Run();
}

std::string Int(int64_t v) { return std::to_string(v); }

// The schedule of a snapshot interval: whole hours as Hour, else Minute.
std::pair<int64_t, int> Recurrence(Millis interval) {
  const int64_t minutes = std::max<int64_t>(1, interval.count() / 60000);
  if (minutes % 60 == 0) return {minutes / 60, 2};  // Hour
  return {minutes, 1};                              // Minute
}

}  // namespace

Result<std::optional<LinkedProfile>> ReadProfile(Db& db, const std::string& name) {
  auto st = db.Prepare(
      "SELECT synapselinkprofileid, name, coalesce(profilestate, 0) FROM synapselinkprofile "
      "WHERE name = ?1 ORDER BY createdon LIMIT 1");
  if (!st) return st.status();
  st->Bind(1, name);
  if (!st->Step()) {
    if (!st->status().ok()) return st->status();
    return std::optional<LinkedProfile>();
  }
  LinkedProfile p;
  p.id = st->Text(0);
  p.name = st->Text(1);
  p.state = static_cast<int>(st->Int(2));
  // Each table's state row (the first by rowid, should there be more),
  // joined rather than looked up per table: the state tables have no
  // indexes, and the supervisor reads this every second.
  auto tables = db.Prepare(
      "SELECT pe.synapselinkprofileentityid, pe.entityname, coalesce(pe.appendonlymode, 0), "
      "coalesce(pe.partitionstrategy, 0), es.id "
      "FROM synapselinkprofileentity pe LEFT JOIN "
      "(SELECT profileentity, synapselinkprofileentitystateid AS id, min(rowid) "
      " FROM synapselinkprofileentitystate GROUP BY profileentity) es "
      "ON es.profileentity = pe.synapselinkprofileentityid "
      "WHERE pe.profile = ?1 ORDER BY pe.entityname");
  if (!tables) return tables.status();
  tables->Bind(1, p.id);
  while (tables->Step()) {
    LinkedTable t;
    t.profile_id = p.id;
    t.profile_name = p.name;
    t.profileentity_id = tables->Text(0);
    t.entity = tables->Text(1);
    t.append_only = tables->Int(2) != 0;
    t.month_partitions = tables->Int(3) == 1;
    t.entitystate_id = tables->IsNull(4) ? "" : tables->Text(4);
    p.tables.push_back(std::move(t));
  }
  if (!tables->status().ok()) return tables->status();
  return std::optional<LinkedProfile>(std::move(p));
}

Result<int64_t> LinkGeneration(Db& db) {
  // Moved by the store's triggers on every change to what is linked
  // (state_store.cc, schema version 6), by this process or another.
  return db.CachedInt("SELECT n FROM linkwatch_link_generation");
}

Result<LinkedProfile> LinkProfile(Db& db, const ProfileConfig& profile, double now) {
  auto existing = ReadProfile(db, profile.name);
  if (!existing) return existing.status();
  if (*existing) return Status::Error("profile " + profile.name + " is already linked");
  const std::string t = FormatDateTime(now);
  LinkedProfile p;
  p.id = state::NewGuid();
  p.name = profile.name;
  p.state = codes::kProfileActive;
  if (auto s = Run(db,
                   "INSERT INTO synapselinkprofile(synapselinkprofileid, name, uniquename, "
                   "profilestate, profiletype, destinationsyncstate, activationtime, "
                   "profileupdatedtime, snapshotstopersist, datalakefolder, copyattachments, "
                   "copyfiles, createdon, modifiedon) VALUES (?1, ?2, ?2, 1, 0, 0, ?3, ?3, ?4, ?5, "
                   "0, 0, ?3, ?3)",
                   {p.id, p.name, t, Int(profile.snapshots_to_keep), profile.destination_path});
      !s.ok()) {
    return s;
  }
  if (auto s = Run(db,
                   "INSERT INTO synapsedatabase(synapsedatabaseid, name, databasename, "
                   "workspacename, datalakefolder, uniquename, createdon, modifiedon) "
                   "VALUES (?1, ?2, ?2, ?2, ?3, ?2, ?4, ?4)",
                   {state::NewGuid(), p.name, profile.destination_path, t});
      !s.ok()) {
    return s;
  }
  const auto [interval, unit] = Recurrence(profile.snapshot_interval);
  if (auto s = Run(db,
                   "INSERT INTO synapselinkschedule(synapselinkscheduleid, name, profile, type, "
                   "recurrenceinterval, recurrenceunit, starttime, createdon, modifiedon) "
                   "VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?6, ?6)",
                   {state::NewGuid(), p.name + " snapshot", p.id, Int(interval), Int(unit), t});
      !s.ok()) {
    return s;
  }
  for (const auto& table : profile.tables) {
    auto added = AddTable(db, p, table, now);
    if (!added) return added.status();
    p.tables.push_back(std::move(added).value());
  }
  return p;
}

Result<LinkedTable> AddTable(Db& db, const LinkedProfile& profile, const TableConfig& table,
                             double now) {
  const std::string t = FormatDateTime(now);
  LinkedTable lt;
  lt.profile_id = profile.id;
  lt.profile_name = profile.name;
  lt.profileentity_id = state::NewGuid();
  lt.entitystate_id = state::NewGuid();
  lt.entity = table.name;
  lt.append_only = table.append_only;
  lt.month_partitions = !table.append_only && table.partition == "month";
  if (auto s = Run(db,
                   "INSERT INTO synapselinkprofileentity(synapselinkprofileentityid, name, "
                   "entityname, profile, appendonlymode, enabled, generateparquet, "
                   "partitionstrategy, entitysource, entitytype, uniquename, createdon, "
                   "modifiedon) VALUES (?1, ?2, ?2, ?3, ?4, 1, 0, ?5, 0, 0, ?2, ?6, ?6)",
                   {lt.profileentity_id, lt.entity, lt.profile_id, Int(lt.append_only ? 1 : 0),
                    Int(lt.month_partitions ? 1 : 0), t});
      !s.ok()) {
    return s;
  }
  if (auto s = Run(db,
                   "INSERT INTO synapselinkprofileentitystate(synapselinkprofileentitystateid, "
                   "name, entityname, profile, profileentity, syncstate, initialsyncstate, "
                   "metadatastate, synapsetablecreationstate, additiontime, entitysource, "
                   "entitytype, createdon, modifiedon) "
                   "VALUES (?1, ?2, ?2, ?3, ?4, 1, 1, 1, 0, ?5, 0, 0, ?5, ?5)",
                   {lt.entitystate_id, lt.entity, lt.profile_id, lt.profileentity_id, t});
      !s.ok()) {
    return s;
  }
  return lt;
}

Status RemoveTable(Db& db, const LinkedTable& table, double now) {
  const std::string t = FormatDateTime(now);
  if (auto s = Run(db, "DELETE FROM synapselinkprofileentitystate WHERE profileentity = ?1; ",
                   {table.profileentity_id});
      !s.ok()) {
    return s;
  }
  if (auto s = Run(db, "DELETE FROM synapselinkprofileentity WHERE synapselinkprofileentityid = ?1",
                   {table.profileentity_id});
      !s.ok()) {
    return s;
  }
  if (auto s = Run(db,
                   "UPDATE synapselinkexternaltablestate SET tablestate = 3, lastsyncstate = 3, "
                   "modifiedon = ?3 WHERE entityname = ?1 AND synapseworkspacename = ?2",
                   {table.entity, table.profile_name, t});
      !s.ok()) {
    return s;
  }
  if (auto s = Run(db, "DELETE FROM linkwatch_sync_cursor WHERE profileentity = ?1",
                   {table.profileentity_id});
      !s.ok()) {
    return s;
  }
  if (auto s =
          Run(db, "DELETE FROM linkwatch_sync_failed_record WHERE profile = ?1 AND entity = ?2",
              {table.profile_name, table.entity});
      !s.ok()) {
    return s;
  }
  if (auto s = Run(db, "DELETE FROM linkwatch_sync_break WHERE profile = ?1 AND entity = ?2",
                   {table.profile_name, table.entity});
      !s.ok()) {
    return s;
  }
  return Run(db, "DELETE FROM linkwatch_sync_error WHERE profile = ?1 AND entity = ?2",
             {table.profile_name, table.entity});
}

Status SetProfileState(Db& db, const std::string& profile_id, int state, double now) {
  const std::string t = FormatDateTime(now);
  return Run(db,
             "UPDATE synapselinkprofile SET profilestate = ?2, profileupdatedtime = ?3, "
             "modifiedon = ?3, activationtime = CASE WHEN ?2 = 1 THEN ?3 ELSE activationtime END "
             "WHERE synapselinkprofileid = ?1",
             {profile_id, Int(state), t});
}

Status MarkInitialStarted(Db& db, const LinkedTable& table, double now) {
  const std::string t = FormatDateTime(now);
  return Run(db,
             "UPDATE synapselinkprofileentitystate SET initialsyncstate = CASE WHEN "
             "syncstate = 16 THEN initialsyncstate WHEN initialsyncstate = 8 THEN 8 ELSE 2 END, "
             "metadatastate = 8, syncstate = CASE WHEN syncstate = 16 THEN 16 ELSE 1 END, "
             "initialsyncmetadatacreatedtime = ?2, lastsyncedmetadatatime = ?2, "
             "modifiedon = ?2 WHERE profileentity = ?1",
             {table.profileentity_id, t});
}

Status MarkInitialFailed(Db& db, const LinkedTable& table, double now) {
  return Run(db,
             "UPDATE synapselinkprofileentitystate SET initialsyncstate = 8, modifiedon = ?2 "
             "WHERE profileentity = ?1",
             {table.profileentity_id, FormatDateTime(now)});
}

Status MarkAppendOnly(Db& db, const LinkedTable& table, double now) {
  return Run(db,
             "UPDATE synapselinkprofileentity SET appendonlymode = 1, partitionstrategy = 0, "
             "modifiedon = ?2 WHERE synapselinkprofileentityid = ?1",
             {table.profileentity_id, FormatDateTime(now)});
}

Status MarkRound(Db& db, const LinkedTable& table, const RoundResult& round, double now) {
  const std::string t = FormatDateTime(now);
  {
    auto st =
        db.Prepare("SELECT 1 FROM synapselinkprofileentity WHERE synapselinkprofileentityid = ?1");
    if (!st) return st.status();
    st->Bind(1, table.profileentity_id);
    if (!st->Step()) {
      if (!st->status().ok()) return st->status();
      return Status::Error("table " + table.profile_name + "/" + table.entity +
                           " was removed while its batch was in flight; its state is not written")
          .WithReason(kTableRemoved);
    }
  }
  if (auto s = Run(db,
                   "INSERT INTO linkwatch_sync_cursor(profileentity, profile, entity, cursor, "
                   "marker, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                   "ON CONFLICT(profileentity) DO UPDATE SET cursor = excluded.cursor, "
                   "marker = excluded.marker, updated_at = excluded.updated_at",
                   {table.profileentity_id, table.profile_name, table.entity,
                    round.committed.cursor, round.committed.marker, std::to_string(now)});
      !s.ok()) {
    return s;
  }
  std::string sql =
      "UPDATE synapselinkprofileentitystate SET syncstate = 2, metadatastate = 8, "
      "synapsetablecreationstate = 2, lastsynceddatatime = ?2, lastsynceddataversion = ?3, "
      "lakerecordcount = ?4, lakerecordcountmodifiedtime = ?2, modifiedon = ?2";
  if (round.source_records >= 0) {
    sql += ", crmrecordcount = ?5, crmrecordcountmodifiedtime = ?2";
  }
  if (round.initial) {
    sql +=
        ", initialsyncstate = 4, initialsyncdatacompletedtime = ?2, "
        "initialsyncprocesscompletedtime = ?2";
  }
  sql += " WHERE profileentity = ?1";
  if (auto s = Run(db, sql,
                   {table.profileentity_id, t, round.committed.cursor, Int(round.lake_records),
                    Int(round.source_records)});
      !s.ok()) {
    return s;
  }
  if (round.initial) {
    if (auto s = Run(db,
                     "UPDATE linkwatch_sync_break SET repaired_at = ?3 WHERE profile = ?1 AND "
                     "entity = ?2 AND repaired_at IS NULL",
                     {table.profile_name, table.entity, std::to_string(now)});
        !s.ok()) {
      return s;
    }
  }
  return Run(db, "DELETE FROM linkwatch_sync_error WHERE profile = ?1 AND entity = ?2",
             {table.profile_name, table.entity});
}

Status MarkIdleRounds(Db& db, const std::vector<std::string>& profileentity_ids, double now) {
  if (profileentity_ids.empty()) return Status::Ok();
  // The cursors stay as they are (their updated_at is when a batch last
  // moved them).
  return Run(db,
             "UPDATE synapselinkprofileentitystate SET lastsynceddatatime = ?2, "
             "lakerecordcountmodifiedtime = ?2, crmrecordcountmodifiedtime = CASE WHEN "
             "crmrecordcount IS NULL THEN crmrecordcountmodifiedtime ELSE ?2 END, modifiedon = ?2 "
             "WHERE profileentity IN (SELECT value FROM json_each(?1)) AND syncstate = 2 AND "
             "metadatastate = 8",
             {nlohmann::json(profileentity_ids).dump(), FormatDateTime(now)});
}

Status MarkUnsyncable(Db& db, const LinkedTable& table, const std::string& error, double now,
                      const std::string& reason) {
  if (auto s = Run(db,
                   "UPDATE synapselinkprofileentitystate SET metadatastate = 16, syncstate = 1, "
                   "modifiedon = ?2 WHERE profileentity = ?1",
                   {table.profileentity_id, FormatDateTime(now)});
      !s.ok()) {
    return s;
  }
  return RecordError(db, table, error, now, reason);
}

Status MarkBreak(Db& db, const LinkedTable& table, const std::string& reason,
                 const std::string& error, double now) {
  if (auto s = Run(db, "DELETE FROM linkwatch_sync_cursor WHERE profileentity = ?1",
                   {table.profileentity_id});
      !s.ok()) {
    return s;
  }
  if (auto s = Run(db,
                   "UPDATE synapselinkprofileentitystate SET syncstate = 16, modifiedon = ?2 "
                   "WHERE profileentity = ?1",
                   {table.profileentity_id, FormatDateTime(now)});
      !s.ok()) {
    return s;
  }
  // The last break is the newest one: a break found again before the
  // repair committed (a source that keeps moving back) replaces it.
  if (auto s = Run(db,
                   "INSERT INTO linkwatch_sync_break(profile, entity, reason, message, at, "
                   "repaired_at) SELECT ?1, ?2, ?3, ?4, ?5, NULL WHERE EXISTS (SELECT 1 FROM "
                   "synapselinkprofileentity WHERE synapselinkprofileentityid = ?6) "
                   "ON CONFLICT(profile, entity) DO UPDATE SET reason = excluded.reason, "
                   "message = excluded.message, at = excluded.at, repaired_at = NULL",
                   {table.profile_name, table.entity, reason, error, std::to_string(now),
                    table.profileentity_id});
      !s.ok()) {
    return s;
  }
  return RecordError(db, table,
                     "the sync broke (" + reason + "): " + error + "; resyncing the table", now,
                     reason);
}

Status RecordError(Db& db, const LinkedTable& table, const std::string& error, double now,
                   const std::string& reason) {
  return Run(db,
             "INSERT INTO linkwatch_sync_error(profile, entity, error, at, attempts, reason) "
             "SELECT ?1, ?2, ?3, ?4, 1, ?5 WHERE EXISTS (SELECT 1 FROM synapselinkprofileentity "
             "WHERE synapselinkprofileentityid = ?6) ON CONFLICT(profile, entity) DO UPDATE SET "
             "error = excluded.error, at = excluded.at, attempts = attempts + 1, "
             "reason = excluded.reason",
             {table.profile_name, table.entity, error, std::to_string(now), reason,
              table.profileentity_id});
}

Status RecordFailedRecords(Db& db, const LinkedTable& table,
                           const std::vector<FailedRecord>& failed,
                           const std::vector<std::string>& synced_ids, bool replace_all,
                           double now) {
  if (replace_all) {
    if (auto s =
            Run(db, "DELETE FROM linkwatch_sync_failed_record WHERE profile = ?1 AND entity = ?2",
                {table.profile_name, table.entity});
        !s.ok()) {
      return s;
    }
  } else if (!synced_ids.empty()) {
    auto st = db.Prepare(
        "DELETE FROM linkwatch_sync_failed_record WHERE profile = ?1 AND entity = ?2 AND id = ?3");
    if (!st) return st.status();
    for (const auto& id : synced_ids) {
      st->Reset();
      if (auto s = st->Bind(1, table.profile_name).Bind(2, table.entity).Bind(3, id).Run();
          !s.ok()) {
        return s;
      }
    }
  }
  if (failed.empty()) return Status::Ok();
  auto st = db.Prepare(
      "INSERT INTO linkwatch_sync_failed_record(profile, entity, id, version, reason, at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(profile, entity, id) DO UPDATE SET "
      "version = excluded.version, reason = excluded.reason, at = excluded.at");
  if (!st) return st.status();
  for (const auto& f : failed) {
    st->Reset();
    if (auto s = st->Bind(1, table.profile_name)
                     .Bind(2, table.entity)
                     .Bind(3, f.id)
                     .Bind(4, f.version)
                     .Bind(5, f.reason)
                     .Bind(6, now)
                     .Run();
        !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Result<int64_t> CountFailedRecords(Db& db, const LinkedTable& table) {
  auto st = db.Prepare(
      "SELECT count(*) FROM linkwatch_sync_failed_record WHERE profile = ?1 AND entity = ?2");
  if (!st) return st.status();
  st->Bind(1, table.profile_name).Bind(2, table.entity);
  if (!st->Step()) return st->status().ok() ? Result<int64_t>(int64_t{0}) : st->status();
  return st->Int(0);
}

Status MarkSnapshot(Db& db, const LinkedTable& table, int64_t records, int64_t max_version,
                    double now) {
  const std::string t = FormatDateTime(now);
  auto st = db.Prepare(
      "UPDATE synapselinkexternaltablestate SET tablestate = 1, lastsyncstate = 1, "
      "lastsynchronizedon = ?3, recordcount = ?4, maxrecordversion = ?5, modifiedon = ?3 "
      "WHERE entityname = ?1 AND synapseworkspacename = ?2");
  if (!st) return st.status();
  st->Bind(1, table.entity).Bind(2, table.profile_name).Bind(3, t).Bind(4, records);
  st->Bind(5, max_version);
  if (auto s = st->Run(); !s.ok()) return s;
  if (db.Changes() > 0) return Status::Ok();
  return Run(
      db,
      "INSERT INTO synapselinkexternaltablestate(synapselinkexternaltablestateid, name, "
      "entityname, tablestate, lastsyncstate, lastsynchronizedon, schemamodifiedon, "
      "recordcount, maxrecordversion, synapsedatabasename, synapseworkspacename, createdon, "
      "modifiedon) VALUES (?1, ?2, ?2, 1, 1, ?3, ?3, ?4, ?5, ?6, ?6, ?3, ?3)",
      {state::NewGuid(), table.entity, t, Int(records), Int(max_version), table.profile_name});
}

Result<double> LastSnapshot(Db& db, const LinkedTable& table) {
  auto st = db.Prepare(
      "SELECT lastsynchronizedon FROM synapselinkexternaltablestate WHERE entityname = ?1 AND "
      "synapseworkspacename = ?2 AND tablestate = 1");
  if (!st) return st.status();
  st->Bind(1, table.entity).Bind(2, table.profile_name);
  if (!st->Step() || st->IsNull(0)) return st->status().ok() ? Result<double>(0.0) : st->status();
  auto t = ParseDateTime(st->TextView(0));
  return t.ok() ? *t : 0.0;
}

Result<std::vector<std::string>> LinkNotes(Db& db, const std::vector<ProfileConfig>& profiles,
                                           const std::string& config_path) {
  std::vector<std::string> notes;
  for (const auto& pc : profiles) {
    auto linked = ReadProfile(db, pc.name);
    if (!linked) return linked.status();
    if (!*linked) {
      notes.push_back("profile " + pc.name + " is in the config but not linked yet (the next " +
                      "`linkwatch run` links it, or: linkwatch link --config " + config_path +
                      " --profile " + pc.name + ")");
      continue;
    }
    if ((*linked)->state == codes::kProfileDeleted) {
      notes.push_back("profile " + pc.name + " is unlinked (Deleted); linkwatch relink --config " +
                      config_path + " --profile " + pc.name + " links it again");
      continue;
    }
    for (const auto& t : pc.tables) {
      bool found = false;
      for (const auto& lt : (*linked)->tables) found |= lt.entity == t.name;
      if (!found) {
        notes.push_back(pc.name + ": table " + t.name +
                        " is in the config but not linked (linkwatch tables add --config " +
                        config_path + " --profile " + pc.name + " " + t.name + ")");
      }
    }
    for (const auto& lt : (*linked)->tables) {
      bool found = false;
      for (const auto& t : pc.tables) found |= lt.entity == t.name;
      if (!found) {
        notes.push_back(pc.name + ": table " + lt.entity +
                        " is linked but not in the config (linkwatch tables remove --config " +
                        config_path + " --profile " + pc.name + " " + lt.entity + " unlinks it)");
      }
    }
  }
  // Linked profiles the config no longer names: the agent does not sync
  // them (it has no source for them), yet the state store says they are
  // linked, so monitoring sees them stall. A config without profiles only
  // watches, and its store may hold other tools' profile rows: then only
  // profiles linkwatch has synced count.
  auto names = LinkedProfileNames(db, /*synced_only=*/profiles.empty());
  if (!names) return names.status();
  for (const auto& name : *names) {
    bool configured = false;
    for (const auto& pc : profiles) configured |= pc.name == name;
    if (configured) continue;
    notes.push_back("profile " + name +
                    " is linked but no longer in the config, so nothing syncs it; linkwatch "
                    "unlink --config " +
                    config_path + " --profile " + name + " stops it (add --delete-data --confirm " +
                    name + " to delete its data too), or put it back into the config");
  }
  return notes;
}

Result<std::optional<Committed>> ReadCommitted(Db& db, const LinkedTable& table) {
  auto st = db.Prepare("SELECT cursor, marker FROM linkwatch_sync_cursor WHERE profileentity = ?1");
  if (!st) return st.status();
  st->Bind(1, table.profileentity_id);
  if (!st->Step()) {
    if (!st->status().ok()) return st->status();
    return std::optional<Committed>();
  }
  return std::optional<Committed>(Committed{st->Text(0), st->Text(1)});
}

Result<std::optional<RecordCounts>> ReadRecordCounts(Db& db, const LinkedTable& table) {
  auto st = db.Prepare(
      "SELECT crmrecordcount, lakerecordcount FROM synapselinkprofileentitystate WHERE "
      "profileentity = ?1 AND crmrecordcount IS NOT NULL AND lakerecordcount IS NOT NULL");
  if (!st) return st.status();
  st->Bind(1, table.profileentity_id);
  if (!st->Step()) {
    if (!st->status().ok()) return st->status();
    return std::optional<RecordCounts>();
  }
  return std::optional<RecordCounts>(RecordCounts{st->Int(0), st->Int(1)});
}

Result<std::vector<std::string>> LinkedProfileNames(Db& db, bool synced_only) {
  std::string sql =
      "SELECT DISTINCT name FROM synapselinkprofile WHERE coalesce(profilestate, 0) != ?1 AND "
      "name IS NOT NULL";
  if (synced_only) {
    sql +=
        " AND name IN (SELECT profile FROM linkwatch_sync_cursor UNION SELECT profile FROM "
        "linkwatch_sync_error)";
  }
  auto st = db.Prepare(sql + " ORDER BY name");
  if (!st) return st.status();
  st->Bind(1, codes::kProfileDeleted);
  std::vector<std::string> out;
  while (st->Step()) out.push_back(st->Text(0));
  if (!st->status().ok()) return st->status();
  return out;
}

Result<std::string> ReadDestinationFolder(Db& db, const std::string& profile_id) {
  auto st = db.Prepare(
      "SELECT coalesce(datalakefolder, '') FROM synapselinkprofile WHERE synapselinkprofileid = "
      "?1");
  if (!st) return st.status();
  st->Bind(1, profile_id);
  if (!st->Step()) return st->status().ok() ? Result<std::string>(std::string()) : st->status();
  return st->Text(0);
}

Status SetDestinationFolder(Db& db, const LinkedProfile& profile, const std::string& folder,
                            double now) {
  const std::string t = FormatDateTime(now);
  if (auto s = Run(db,
                   "UPDATE synapselinkprofile SET datalakefolder = ?2, modifiedon = ?3 WHERE "
                   "synapselinkprofileid = ?1",
                   {profile.id, folder, t});
      !s.ok()) {
    return s;
  }
  return Run(db, "UPDATE synapsedatabase SET datalakefolder = ?2, modifiedon = ?3 WHERE name = ?1",
             {profile.name, folder, t});
}

}  // namespace linkwatch::sync
