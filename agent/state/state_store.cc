#include "agent/state/state_store.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "agent/core/text.h"
#include "agent/core/time_format.h"

namespace linkwatch::state {
namespace {

// Ids default to a random lower-case GUID so that plain SQL inserts need not
// make one up; timestamps default to now, as Dataverse fills them.
constexpr const char* kGuidDefault =
    "(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || "
    "substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' "
    "|| lower(hex(randomblob(6))))";
constexpr const char* kNowDefault = "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";

std::string SqlType(ColumnType t) {
  switch (t) {
    case ColumnType::kInt:
    case ColumnType::kBool:
    case ColumnType::kChoice:
      return "INTEGER";
    default:
      return "TEXT";
  }
}

// The outbox as version 1 made it (version 8 creates it too, for a store
// that lacks it: an older test's or a hand-made file).
const char* const kOutboxTableV1 = R"SQL(
CREATE TABLE IF NOT EXISTS linkwatch_outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  receiver        TEXT NOT NULL,
  group_key       TEXT NOT NULL,
  payload         TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending',
  created_at      REAL NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL,
  last_error      TEXT,
  dead_reason     TEXT
);
CREATE INDEX IF NOT EXISTS linkwatch_outbox_by_receiver
  ON linkwatch_outbox (state, receiver, id);
)SQL";

// linkwatch's own tables. Version 1 is the first schema; later versions
// append entries to kMigrations and never edit earlier ones.
const char* const kLinkwatchTablesV1 = R"SQL(
CREATE TABLE IF NOT EXISTS linkwatch_alert (
  fingerprint  TEXT PRIMARY KEY,
  rule         TEXT NOT NULL,
  labels       TEXT NOT NULL,
  annotations  TEXT NOT NULL DEFAULT '{}',
  state        TEXT NOT NULL,
  active_at    REAL,
  starts_at    REAL,
  ends_at      REAL,
  last_true_at REAL,
  value        TEXT,
  updated_at   REAL,
  template_error INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS linkwatch_nflog (
  receiver  TEXT NOT NULL,
  group_key TEXT NOT NULL,
  firing    TEXT NOT NULL,
  resolved  TEXT NOT NULL,
  sent_at   REAL NOT NULL,
  PRIMARY KEY (receiver, group_key)
);
CREATE TABLE IF NOT EXISTS linkwatch_sync_error (
  profile   TEXT NOT NULL,
  entity    TEXT NOT NULL,
  error     TEXT NOT NULL,
  at        REAL NOT NULL,
  attempts  INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (profile, entity)
);
)SQL";

// Version 2: the sync core's committed position per table: the source
// cursor and the destination's marker, written in the same transaction as
// the state rows of each committed batch.
const char* const kLinkwatchTablesV2 = R"SQL(
CREATE TABLE IF NOT EXISTS linkwatch_sync_cursor (
  profileentity TEXT PRIMARY KEY,
  profile       TEXT NOT NULL,
  entity        TEXT NOT NULL,
  cursor        INTEGER NOT NULL,
  marker        TEXT NOT NULL DEFAULT '',
  updated_at    REAL NOT NULL
);
)SQL";

// Version 3: the sync core's failed records (docs/sync.md "Failed
// records"): source rows left out of the lake, one per lake Id, until that
// Id syncs fine or is deleted.
const char* const kLinkwatchTablesV3 = R"SQL(
CREATE TABLE IF NOT EXISTS linkwatch_sync_failed_record (
  profile   TEXT NOT NULL,
  entity    TEXT NOT NULL,
  id        TEXT NOT NULL,
  version   INTEGER NOT NULL,
  reason    TEXT NOT NULL,
  at        REAL NOT NULL,
  PRIMARY KEY (profile, entity, id)
);
)SQL";

// Version 4: the reason code of a table's current error (docs/sync.md
// "Breaks"), and the last break of each table: what broke, when it was
// detected, and when the resync that repaired it committed (NULL while it
// runs). Times are epoch seconds like the other linkwatch_ tables.
const char* const kLinkwatchTablesV4 = R"SQL(
ALTER TABLE linkwatch_sync_error ADD COLUMN reason TEXT;
CREATE TABLE IF NOT EXISTS linkwatch_sync_break (
  profile     TEXT NOT NULL,
  entity      TEXT NOT NULL,
  reason      TEXT NOT NULL,
  message     TEXT NOT NULL,
  at          REAL NOT NULL,
  repaired_at REAL,
  PRIMARY KEY (profile, entity)
);
)SQL";

// Version 5: sync cursors are opaque text (a Dataverse delta token as well
// as a SQLite source's sequence number), stored exactly as the source
// returned them: the INTEGER column would turn a cursor that looks like a
// number into one. SQLite cannot change a column's type, so the table is
// rebuilt; the integer cursors of earlier versions become their decimal
// text, which is how the sqlite source writes its cursors. (A store that
// lacks the table, as the version 3 stores some tests write, gets it.)
const char* const kLinkwatchTablesV5 = R"SQL(
CREATE TABLE IF NOT EXISTS linkwatch_sync_cursor (
  profileentity TEXT PRIMARY KEY,
  profile       TEXT NOT NULL,
  entity        TEXT NOT NULL,
  cursor        TEXT NOT NULL,
  marker        TEXT NOT NULL DEFAULT '',
  updated_at    REAL NOT NULL
);
CREATE TABLE linkwatch_sync_cursor_v5 (
  profileentity TEXT PRIMARY KEY,
  profile       TEXT NOT NULL,
  entity        TEXT NOT NULL,
  cursor        TEXT NOT NULL,
  marker        TEXT NOT NULL DEFAULT '',
  updated_at    REAL NOT NULL
);
INSERT INTO linkwatch_sync_cursor_v5
  SELECT profileentity, profile, entity, CAST(cursor AS TEXT), marker, updated_at
  FROM linkwatch_sync_cursor;
DROP TABLE linkwatch_sync_cursor;
ALTER TABLE linkwatch_sync_cursor_v5 RENAME TO linkwatch_sync_cursor;
)SQL";

// Version 6: a generation that every change to what is linked moves, so
// that the sync supervisor learns of a link, unlink or relink (by the agent
// or by a `linkwatch link` in another process) by reading one row each
// second instead of every table's ids. Triggers, so that every writer moves
// it; only the columns that decide the linked set count, so the rounds' and
// heartbeats' updates of the state rows leave it alone.
std::string LinkGenerationDdl() {
  struct Watched {
    const char* table;
    const char* columns;  // UPDATE OF these moves the generation
  };
  const Watched watched[] = {
      {"synapselinkprofile", "synapselinkprofileid, name, profilestate"},
      {"synapselinkprofileentity", "synapselinkprofileentityid, profile, entityname"},
      {"synapselinkprofileentitystate", "synapselinkprofileentitystateid, profileentity"}};
  // The watched tables as version 1 made them, for a store that lacks one
  // (an older test's or a hand-made file).
  std::string sql;
  for (const auto& t : AllTables()) sql += SixTableDdl(t) + ";\n";
  sql +=
      "CREATE TABLE IF NOT EXISTS linkwatch_link_generation (id INTEGER PRIMARY KEY "
      "CHECK (id = 1), n INTEGER NOT NULL);\n"
      "INSERT OR IGNORE INTO linkwatch_link_generation VALUES (1, 0);\n";
  const std::string bump = " BEGIN UPDATE linkwatch_link_generation SET n = n + 1; END;\n";
  for (const auto& w : watched) {
    const std::string t = w.table;
    const std::string create = "CREATE TRIGGER IF NOT EXISTS linkwatch_link_" + t;
    sql += create + "_insert AFTER INSERT ON " + t + bump;
    sql += create + "_delete AFTER DELETE ON " + t + bump;
    sql += create + "_update AFTER UPDATE OF " + w.columns + " ON " + t + bump;
  }
  return sql;
}

// SQLite's fundamental types (sqlite3_column_type).
constexpr int kSqliteInteger = 1, kSqliteFloat = 2, kSqliteText = 3;

// A stored value too long to quote in full is cut: it only identifies the
// value in a log line and in the watcher's warn-once memory.
constexpr size_t kMaxQuotedValue = 200;

std::string QuoteValue(const Statement& st, int col) {
  if (st.Type(col) == kSqliteFloat) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", st.Real(col));
    return buf;
  }
  std::string_view text = st.TextView(col);
  if (text.size() > kMaxQuotedValue) return std::string(text.substr(0, kMaxQuotedValue)) + "...";
  return std::string(text);
}

// Integer, choice and boolean columns: an INTEGER keeps its exact value; a
// REAL counts only when it is a whole number in int64 range; a TEXT as
// IntegerOfText says; anything else is null. Returns the cell, or sets
// `reason` and returns null.
Cell IntegerCell(const Statement& st, int col, ColumnType type, const char*& reason) {
  std::optional<int64_t> value;
  switch (st.Type(col)) {
    case kSqliteInteger:
      value = st.Int(col);
      break;
    case kSqliteFloat: {
      const double d = st.Real(col);
      value = WholeInt64(d);
      if (!value) reason = NotInt64Reason(d);
      break;
    }
    case kSqliteText:
      value = IntegerOfText(st.TextView(col), type, reason);
      break;
    default:
      reason = "not a number";
  }
  if (value) value = CheckChoiceRange(*value, type, reason);
  return value ? Cell::Int(*value) : Cell::Null();
}

// The kSync rows (schema.h) from the snapshot's sync errors and breaks: one
// row per (profile, entity) that has either, so that rules see both through
// one join.
void AddSyncRows(Snapshot& snap) {
  const TableDef& def = SyncTable();
  auto& rows = snap[TableId::kSync].rows;
  std::map<std::pair<std::string, std::string>, size_t> index;
  auto row_of = [&](const std::string& profile, const std::string& entity) -> Row& {
    auto [it, added] = index.try_emplace({profile, entity}, rows.size());
    if (added) {
      Row row(def.columns.size());
      row[0] = snap.Text(profile + "/" + entity);
      row[def.ColumnIndex("profile")] = snap.Text(profile);
      row[def.ColumnIndex("entityname")] = snap.Text(entity);
      rows.push_back(std::move(row));
    }
    return rows[it->second];
  };
  auto text = [&](const std::string& v) { return v.empty() ? Cell::Null() : snap.Text(v); };
  for (const auto& e : snap.sync_errors) {
    Row& row = row_of(e.profile, e.entity);
    row[def.ColumnIndex("error")] = text(e.error);
    row[def.ColumnIndex("errorreason")] = text(e.reason);
    row[def.ColumnIndex("errortime")] = Cell::Number(e.at);
    row[def.ColumnIndex("errorattempts")] = Cell::Int(e.attempts);
  }
  for (const auto& b : snap.sync_breaks) {
    Row& row = row_of(b.profile, b.entity);
    row[def.ColumnIndex("lastbreakreason")] = text(b.reason);
    row[def.ColumnIndex("lastbreakmessage")] = text(b.message);
    row[def.ColumnIndex("lastbreaktime")] = Cell::Number(b.at);
    if (b.repaired_at > 0) row[def.ColumnIndex("lastrepairtime")] = Cell::Number(b.repaired_at);
  }
}

// Silences (notifiers/silences.h): Alertmanager's fields; matchers as a JSON
// array of {name, value, isRegex, isEqual}, never as text to parse again.
const char* const kLinkwatchTablesV7 = R"SQL(
CREATE TABLE IF NOT EXISTS linkwatch_silences (
  id          TEXT PRIMARY KEY,
  matchers    TEXT NOT NULL,
  starts_at   REAL NOT NULL,
  ends_at     REAL NOT NULL,
  created_by  TEXT NOT NULL,
  comment     TEXT NOT NULL,
  updated_at  REAL NOT NULL
);
)SQL";

// Version 8: superseding a waiting notification of the same (receiver,
// group) finds it by index, not by scanning the receiver's pending rows
// (O(n^2) for a burst of n groups).
const char* const kLinkwatchTablesV8 = R"SQL(
CREATE INDEX IF NOT EXISTS linkwatch_outbox_pending_group
  ON linkwatch_outbox (receiver, group_key) WHERE state = 'pending';
)SQL";

struct Migration {
  int version;
  std::string sql;
};

std::vector<Migration> Migrations() {
  std::string v1;
  for (const auto& t : AllTables()) v1 += SixTableDdl(t) + ";\n";
  v1 += kLinkwatchTablesV1;
  v1 += kOutboxTableV1;
  return {{1, v1},
          {2, kLinkwatchTablesV2},
          {3, kLinkwatchTablesV3},
          {4, kLinkwatchTablesV4},
          {5, kLinkwatchTablesV5},
          {6, LinkGenerationDdl()},
          {7, kLinkwatchTablesV7},
          {8, std::string(kOutboxTableV1) + kLinkwatchTablesV8}};
}

}  // namespace

std::string SixTableDdl(const TableDef& table) {
  std::string sql = "CREATE TABLE IF NOT EXISTS " + std::string(table.name) + " (\n";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const auto& c = table.columns[i];
    sql += "  " + std::string(c.name) + " " + SqlType(c.type);
    if (i == 0) {
      sql += std::string(" PRIMARY KEY NOT NULL DEFAULT ") + kGuidDefault;
    } else if (c.name == "createdon" || c.name == "modifiedon") {
      sql += std::string(" DEFAULT ") + kNowDefault;
    } else if (c.name == "statecode") {
      sql += " DEFAULT 0";
    } else if (c.name == "statuscode") {
      sql += " DEFAULT 1";
    } else if (c.type == ColumnType::kLookup && c.lookup_table) {
      // Deleting a profile entity removes its state rows (state-tables.md).
      const auto& target = Table(*c.lookup_table);
      if (table.id == TableId::kEntityState && c.name == "profileentity") {
        sql += " REFERENCES " + std::string(target.name) + "(" +
               std::string(target.columns[0].name) + ") ON DELETE CASCADE";
      }
    }
    sql += i + 1 < table.columns.size() ? ",\n" : "\n";
  }
  sql += ")";
  return sql;
}

Status Migrate(Db& db) {
  int version = 0;
  {
    // Finished before migrating: a statement still open on the connection
    // would make DROP TABLE fail ("database table is locked").
    auto st = db.Prepare("PRAGMA user_version");
    if (!st) return st.status();
    version = st->Step() ? static_cast<int>(st->Int(0)) : 0;
    st->Reset();
  }
  if (version > kSchemaVersion) {
    return Status::Error(db.path() + " has schema version " + std::to_string(version) +
                         ", newer than this linkwatch (" + std::to_string(kSchemaVersion) + ")");
  }
  if (version == kSchemaVersion) return Status::Ok();
  Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  for (const auto& m : Migrations()) {
    if (m.version <= version) continue;
    if (auto s = db.Exec(m.sql); !s.ok()) {
      return s.WithContext("migrating to schema version " + std::to_string(m.version));
    }
  }
  if (auto s = db.Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)); !s.ok()) {
    return s;
  }
  return tx.Commit();
}

namespace {

// The columns of each of the six tables that this file has (other tools may
// write fewer), and the SELECT of them.
Result<SnapshotPlan::Table> PlanTable(Db& db, const TableDef& table) {
  std::set<std::string, std::less<>> present;
  {
    auto info = db.Prepare("PRAGMA table_info(" + std::string(table.name) + ")");
    if (!info) return info.status();
    while (info->Step()) present.insert(info->Text(1));
    if (!info->status().ok()) return info->status();
  }
  SnapshotPlan::Table plan;
  if (present.empty()) return plan;  // table missing: no rows
  plan.sql = "SELECT ";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (!present.count(table.columns[i].name)) continue;
    if (!plan.selected.empty()) plan.sql += ", ";
    plan.sql += std::string(table.columns[i].name);
    plan.selected.push_back(static_cast<int>(i));
  }
  plan.sql += " FROM " + std::string(table.name);
  return plan;
}

// Resets a cached statement however the read ends: one left stepping would
// hold the connection's read transaction open.
struct ResetOnExit {
  Statement* st;
  ~ResetOnExit() { st->Reset(); }
};

}  // namespace

Result<Snapshot> ReadSnapshot(Db& db, SnapshotPlan* plan) {
  SnapshotPlan local;
  if (plan == nullptr) plan = &local;
  auto version = db.CachedInt("PRAGMA schema_version");
  if (!version) return version.status();
  const auto& tables = AllTables();
  if (plan->schema_version != *version || plan->tables.size() != tables.size()) {
    plan->schema_version = -1;
    plan->tables.clear();
    for (const auto& table : tables) {
      auto t = PlanTable(db, table);
      if (!t) return t.status();
      plan->tables.push_back(std::move(t).value());
    }
    plan->schema_version = *version;
  }
  Snapshot snap;
  for (size_t ti = 0; ti < tables.size(); ++ti) {
    const TableDef& table = tables[ti];
    const SnapshotPlan::Table& tp = plan->tables[ti];
    if (tp.sql.empty()) continue;
    const std::vector<int>& selected = tp.selected;
    Statement* st = db.Cached(tp.sql);
    if (st == nullptr) return Status::Error(db.LastError() + " in: " + tp.sql);
    ResetOnExit reset{st};
    auto& out = snap[table.id].rows;
    // The previous row's text per column: lookups and names repeat row
    // after row (every entity of a profile names the profile), so equal
    // neighbours share one copy in the pool.
    std::vector<Cell> previous(table.columns.size());
    struct DateTimeMemo {
      bool valid = false;
      std::string text;
      double value = 0;
    };
    std::vector<DateTimeMemo> previous_time(table.columns.size());
    while (st->Step()) {
      Row row(table.columns.size());
      const size_t first_invalid = snap.invalid_values.size();
      for (size_t k = 0; k < selected.size(); ++k) {
        const int col = static_cast<int>(k);
        if (st->IsNull(col)) continue;
        const ColumnDef& def = table.columns[selected[k]];
        Cell& cell = row[selected[k]];
        const char* reason = nullptr;
        switch (def.type) {
          case ColumnType::kInt:
          case ColumnType::kBool:
          case ColumnType::kChoice:
            cell = IntegerCell(*st, col, def.type, reason);
            break;
          case ColumnType::kDateTime: {
            // Times repeat row after row too (an idle profile's heartbeat
            // writes one time into every table's row): parsed once.
            const std::string_view text = st->TextView(col);
            DateTimeMemo& memo = previous_time[selected[k]];
            if (!memo.valid || memo.text != text) {
              auto parsed = ParseDateTime(text);
              memo.valid = parsed.ok();
              if (!parsed.ok()) {  // an invalid text is reported each time
                reason = "not an ISO-8601 datetime";
                break;
              }
              memo.text.assign(text);
              memo.value = *parsed;
            }
            cell = Cell::Number(memo.value);
            break;
          }
          default: {
            const std::string_view text = st->TextView(col);
            Cell& prev = previous[selected[k]];
            if (prev.kind != Cell::Kind::kText || prev.text() != text) prev = snap.Text(text);
            cell = prev;
          }
        }
        if (reason != nullptr) {
          snap.invalid_values.push_back(
              {table.id, "", std::string(def.name), QuoteValue(*st, col), reason});
        }
      }
      for (size_t i = first_invalid; i < snap.invalid_values.size(); ++i) {
        snap.invalid_values[i].row_id = row[0].text();
      }
      out.push_back(std::move(row));
    }
    if (!st->status().ok()) return st->status().WithContext("reading " + std::string(table.name));
  }
  // linkwatch's own sync errors and breaks, when this store has them (a
  // foreign state store, or an older one, has not; one older than version 4
  // has errors without a reason).
  auto errors =
      db.Prepare("SELECT profile, entity, error, at, attempts, reason FROM linkwatch_sync_error");
  const bool with_reason = errors.ok();
  if (!with_reason) {
    errors = db.Prepare("SELECT profile, entity, error, at, attempts FROM linkwatch_sync_error");
  }
  if (errors) {
    auto& st = *errors;
    while (st.Step()) {
      snap.sync_errors.push_back({st.Text(0), st.Text(1), st.Text(2), st.Real(3), st.Int(4),
                                  with_reason && !st.IsNull(5) ? st.Text(5) : ""});
    }
  }
  if (auto st = db.Prepare(
          "SELECT profile, entity, reason, message, at, repaired_at FROM linkwatch_sync_break");
      st) {
    while (st->Step()) {
      snap.sync_breaks.push_back({st->Text(0), st->Text(1), st->Text(2), st->Text(3), st->Real(4),
                                  st->IsNull(5) ? 0.0 : st->Real(5)});
    }
  }
  AddSyncRows(snap);
  // Failed records per table: how many, and the latest reason.
  if (auto st = db.Prepare(
          "SELECT profile, entity, count(*), "
          "(SELECT reason FROM linkwatch_sync_failed_record AS l WHERE l.profile = f.profile AND "
          "l.entity = f.entity ORDER BY at DESC, rowid DESC LIMIT 1), max(at) "
          "FROM linkwatch_sync_failed_record AS f GROUP BY profile, entity");
      st) {
    while (st->Step()) {
      snap.failed_records.push_back(
          {st->Text(0), st->Text(1), st->Int(2), st->Text(3), st->Real(4)});
    }
  }
  return snap;
}

namespace {

// The schema version of an existing SQLite file, opened read-only.
Result<int> ReadUserVersion(const std::string& path) {
  auto db = Db::Open(path, Db::Mode::kReadOnly);
  if (!db) return db.status();
  // Reading the schema is what fails for a file that is not a database.
  auto st = (*db)->Prepare("SELECT count(*) FROM sqlite_master");
  if (!st) return st.status();
  if (!st->Step()) return st->status().WithContext(path);
  auto version = (*db)->Prepare("PRAGMA user_version");
  if (!version) return version.status();
  if (!version->Step()) return version->status().WithContext(path);
  return static_cast<int>(version->Int(0));
}

}  // namespace

Status CheckSqliteFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Status::Error(path + " is a folder");
  auto version = ReadUserVersion(path);
  return version.ok() ? Status::Ok() : version.status();
}

Status CheckStateStoreFile(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    const fs::path dir = fs::absolute(path, ec).parent_path();
    if (!fs::is_directory(dir, ec)) {
      return Status::Error("cannot create " + path + ": folder " + dir.string() +
                           " does not exist");
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      return Status::Error("cannot create " + path + ": folder " + dir.string() +
                           " is not writable");
    }
    return Status::Ok();
  }
  if (fs::is_directory(path, ec)) return Status::Error(path + " is a folder");
  if (::access(path.c_str(), R_OK | W_OK) != 0) {
    return Status::Error(path + " is not readable and writable by this user");
  }
  auto version = ReadUserVersion(path);
  if (!version) return version.status();
  if (*version > kSchemaVersion) {
    return Status::Error(path + " has schema version " + std::to_string(*version) +
                         ", newer than this linkwatch (" + std::to_string(kSchemaVersion) + ")");
  }
  return Status::Ok();
}

std::string NewGuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant
  char buf[37];
  snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
           static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
           static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  auto db = Db::Open(path);
  if (!db) return db.status();
  if (auto s = Migrate(**db); !s.ok()) return s;
  return std::unique_ptr<StateStore>(new StateStore(std::move(db).value()));
}

}  // namespace linkwatch::state
