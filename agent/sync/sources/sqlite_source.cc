#include "agent/sync/sources/sqlite_source.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "agent/core/env.h"
#include "agent/core/text.h"
#include "agent/state/db.h"
#include "agent/sync/destinations/lake_format.h"
#include "agent/sync/source_registry.h"

namespace linkwatch::sync {
namespace {

using state::Db;
using state::Statement;

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// lake-format.md "Rows from a SQLite source": types from the declared type,
// in SQLite's affinity order, with the date names and BOOLEAN first.
SourceColumn ColumnOf(std::string name, std::string declared) {
  SourceColumn c;
  const std::string t = AsciiToUpper(declared);
  const std::string lower_name = AsciiToLower(name);
  auto has = [&](const char* word) { return t.find(word) != std::string::npos; };
  // A GUID by its declared type only (lake-format.md "model.json"): its
  // values are checked to be GUIDs, so readers may map it to uniqueidentifier.
  const std::string bare = t.substr(0, t.find_last_not_of(' ') + 1);
  if (bare == "GUID" || bare == "UUID" || bare == "UNIQUEIDENTIFIER") {
    c.type = ValueType::kGuid;
  } else if (has("DATE") || has("TIME") || lower_name == "createdon" ||
             lower_name == "modifiedon") {
    c.type = ValueType::kDateTime;
  } else if (has("BOOL")) {
    c.type = ValueType::kBoolean;
  } else if (has("INT")) {
    c.type = ValueType::kInt64;
  } else if (has("CHAR") || has("CLOB") || has("TEXT")) {
    c.type = ValueType::kString;
  } else if (t.empty() || has("BLOB")) {
    c.type = ValueType::kString;
    c.binary = has("BLOB");
  } else if (has("REAL") || has("FLOA") || has("DOUB")) {
    c.type = ValueType::kDouble;
  } else if (has("NUM") || has("DEC") || has("MONEY")) {
    c.type = ValueType::kDecimal;  // NUMERIC, DECIMAL(p,s), NUMBER, MONEY
    lake::DecimalShape(declared, c.precision, c.scale);
  } else {
    // SQLite gives e.g. STRING or JSON numeric affinity, but what they hold is
    // text; a reader could not parse it as decimal.
    c.type = ValueType::kString;
  }
  c.name = std::move(name);
  c.declared_type = std::move(declared);
  return c;
}

struct TableInfo {
  std::vector<SourceColumn> columns;
  std::vector<int> key;               // indexes of primary-key columns
  std::vector<std::string> defaults;  // per column, its DEFAULT expression; "" for none
};

Result<TableInfo> ReadTableInfo(Db& db, const std::string& table) {
  auto st =
      db.Prepare("SELECT name, type, pk, coalesce(dflt_value, '') FROM pragma_table_info(?1)");
  if (!st) return st.status();
  st->Bind(1, table);
  TableInfo info;
  while (st->Step()) {
    if (st->Int(2) > 0) info.key.push_back(static_cast<int>(info.columns.size()));
    info.columns.push_back(ColumnOf(st->Text(0), st->Text(1)));
    info.defaults.push_back(st->Text(3));
  }
  if (!st->status().ok()) return st->status();
  if (info.columns.empty()) {
    return Status::Error("no table \"" + table + "\" in " + db.path());
  }
  if (info.key.size() != 1) {
    return Status::Error(
        "table \"" + table + "\" in " + db.path() +
        (info.key.empty() ? " has no primary key" : " has a primary key of several columns") +
        "; linkwatch needs a single-column primary key (it becomes the lake's Id)");
  }
  return info;
}

constexpr const char* kChangeLogDdl = R"sql(
CREATE TABLE IF NOT EXISTS _linkwatch_clock(
  one INTEGER PRIMARY KEY CHECK (one = 1),
  seq INTEGER NOT NULL);
INSERT OR IGNORE INTO _linkwatch_clock(one, seq) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS _linkwatch_changes(
  tbl TEXT NOT NULL,
  id NOT NULL,
  seq INTEGER NOT NULL,
  op TEXT NOT NULL,
  at REAL NOT NULL,
  PRIMARY KEY (tbl, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _linkwatch_changes_by_seq ON _linkwatch_changes(tbl, seq);
CREATE TABLE IF NOT EXISTS _linkwatch_tracked(
  tbl TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  enabled_at TEXT NOT NULL,
  generation INTEGER NOT NULL DEFAULT 0);
)sql";

// The consumers' checkpoints (sqlite_source.h). Created by the first
// checkpoint too, for files tracked by an older linkwatch.
constexpr const char* kConsumerDdl = R"sql(
CREATE TABLE IF NOT EXISTS _linkwatch_consumer(
  consumer TEXT PRIMARY KEY,
  tbl TEXT NOT NULL,
  cursor INTEGER NOT NULL,
  generation INTEGER NOT NULL,
  key TEXT NOT NULL,
  at TEXT NOT NULL);
)sql";

// Epoch seconds with milliseconds, in any SQLite version.
constexpr const char* kNowSql = "((julianday('now') - 2440587.5) * 86400.0)";

// One trigger statement pair: take the next sequence number, log the change.
std::string LogChange(const std::string& table, const std::string& key_expr, const char* op,
                      const std::string& where = "") {
  return "UPDATE _linkwatch_clock SET seq = seq + 1" + (where.empty() ? "" : " WHERE " + where) +
         ";\n  INSERT OR REPLACE INTO _linkwatch_changes(tbl, id, seq, op, at) SELECT " +
         QuoteLiteral(table) + ", " + key_expr + ", seq, '" + op + "', " + kNowSql +
         " FROM _linkwatch_clock" + (where.empty() ? "" : " WHERE " + where) + ";\n";
}

// The three triggers of a table, by name, each as the CREATE TRIGGER text
// that sqlite_master keeps (so an installed trigger can be compared with the
// current one).
std::vector<std::pair<std::string, std::string>> Triggers(const std::string& table,
                                                          const std::string& key) {
  const std::string t = QuoteIdent(table), k = QuoteIdent(key);
  const std::string old_k = "OLD." + k, new_k = "NEW." + k;
  // Keys compare byte for byte (a NOCASE key changing only its case is a new
  // key). Rows with a NULL key (SQLite allows them in rowid tables) are not
  // tracked rather than failing the application's write.
  const std::string same = old_k + " IS " + new_k + " COLLATE BINARY";
  const std::string moved = old_k + " IS NOT " + new_k + " COLLATE BINARY";
  auto name = [&](const char* kind) { return "_linkwatch_" + table + "_" + kind; };
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back(name("insert"), "CREATE TRIGGER " + QuoteIdent(name("insert")) +
                                       " AFTER INSERT ON " + t + " WHEN " + new_k +
                                       " IS NOT NULL BEGIN\n  " + LogChange(table, new_k, "c") +
                                       "END");
  // A key that changes is a delete of the old key and a create of the new.
  out.emplace_back(name("update"),
                   "CREATE TRIGGER " + QuoteIdent(name("update")) + " AFTER UPDATE ON " + t +
                       " BEGIN\n  " +
                       LogChange(table, old_k, "d", old_k + " IS NOT NULL AND " + moved) + "  " +
                       LogChange(table, new_k, "u", new_k + " IS NOT NULL AND " + same) + "  " +
                       LogChange(table, new_k, "c", new_k + " IS NOT NULL AND " + moved) + "END");
  out.emplace_back(name("delete"), "CREATE TRIGGER " + QuoteIdent(name("delete")) +
                                       " AFTER DELETE ON " + t + " WHEN " + old_k +
                                       " IS NOT NULL BEGIN\n  " + LogChange(table, old_k, "d") +
                                       "END");
  return out;
}

Result<bool> HasTable(Db& db, const std::string& name) {
  auto st = db.Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
  if (!st) return st.status();
  st->Bind(1, name);
  if (!st->Step()) return st->status().ok() ? Status::Error("count(*) gave no row") : st->status();
  return st->Int(0) != 0;
}

// The table's row of _linkwatch_tracked; nullopt when it has none. A file
// tracked by an older linkwatch has no generation column: generation 0.
Result<std::optional<SqliteSource::Tracking>> ReadTracking(Db& db, const std::string& table) {
  auto has = HasTable(db, "_linkwatch_tracked");
  if (!has) return has.status();
  if (!*has) return std::optional<SqliteSource::Tracking>();
  auto st = db.Prepare("SELECT key, generation FROM _linkwatch_tracked WHERE tbl = ?1");
  if (!st) st = db.Prepare("SELECT key, 0 FROM _linkwatch_tracked WHERE tbl = ?1");
  if (!st) return st.status();
  st->Bind(1, table);
  if (!st->Step()) {
    if (!st->status().ok()) return st->status();
    return std::optional<SqliteSource::Tracking>();
  }
  return std::optional<SqliteSource::Tracking>(SqliteSource::Tracking{st->Int(1), st->Text(0)});
}

// How many of the table's three triggers exist.
Result<int64_t> CountTriggers(Db& db, const std::string& table) {
  auto st = db.Prepare(
      "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1 AND name IN "
      "('_linkwatch_' || ?1 || '_insert', '_linkwatch_' || ?1 || '_update', "
      "'_linkwatch_' || ?1 || '_delete')");
  if (!st) return st.status();
  st->Bind(1, table);
  if (!st->Step()) return st->status().ok() ? Status::Error("count(*) gave no row") : st->status();
  return st->Int(0);
}

std::string EnableCommand(const std::string& path, const std::string& table) {
  return "linkwatch source enable-change-tracking --db " + path + " --table " + table;
}

// Ok when the table is tracked with its current key; else an error saying
// what is wrong and the command that fixes it.
Status CheckTracked(Db& db, const std::string& table, const std::string& key) {
  auto tracking = ReadTracking(db, table);
  if (!tracking) return tracking.status();
  auto triggers = CountTriggers(db, table);
  if (!triggers) return triggers.status();
  if (!*tracking || *triggers != 3) {
    return Status::Error(
        "table \"" + table + "\" in " + db.path() +
        " has no change tracking; enable it with: " + EnableCommand(db.path(), table));
  }
  if ((*tracking)->key != key) {
    return Status::Error("table \"" + table + "\" in " + db.path() + " has the primary key " + key +
                         " but its change tracking follows " + (*tracking)->key +
                         "; enable it again with: " + EnableCommand(db.path(), table));
  }
  return Status::Ok();
}

Value ValueAt(const Statement& st, int col);

// The values of the columns' DEFAULTs, evaluated once (`SELECT <default>`).
// Only literals matter: ALTER TABLE ADD COLUMN allows no other default, and
// only a column added later leaves existing rows without a value of their
// own. CURRENT_TIME & co and parenthesised expressions (allowed in CREATE
// TABLE, where every row stores its value) are left out.
Result<std::vector<StoredValue>> EvaluateDefaults(Db& db, const TableInfo& info) {
  std::vector<StoredValue> out;
  for (size_t c = 0; c < info.defaults.size(); ++c) {
    const std::string& expr = info.defaults[c];
    const std::string upper = AsciiToUpper(expr);
    if (expr.empty() || expr.starts_with('(') || upper.starts_with("CURRENT_")) continue;
    auto st = db.Prepare("SELECT " + expr);
    if (!st) {
      return st.status().WithContext("evaluating DEFAULT " + expr + " of column " +
                                     info.columns[c].name);
    }
    if (!st->Step()) {
      return st->status().ok() ? Status::Error("DEFAULT " + expr + " gave no value") : st->status();
    }
    const Value v = ValueAt(*st, 0);
    if (v.is_null()) continue;
    out.resize(info.columns.size());
    out[c] = StoredValue{v.kind, v.i, v.d, std::string(v.text)};
  }
  return out;
}

Value ValueAt(const Statement& st, int col) {
  Value v;
  switch (st.Type(col)) {
    case 1:
      v.kind = Value::Kind::kInt;
      v.i = st.Int(col);
      break;
    case 2:
      v.kind = Value::Kind::kReal;
      v.d = st.Real(col);
      break;
    case 3:
      v.kind = Value::Kind::kText;
      v.text = st.TextView(col);
      break;
    case 4:
      v.kind = Value::Kind::kBlob;
      v.text = st.BlobView(col);
      break;
    default:
      break;
  }
  return v;
}

std::string SelectList(const TableSchema& table, const char* alias) {
  std::string out;
  for (const auto& c : table.columns) out += std::string(", ") + alias + "." + QuoteIdent(c.name);
  return out;
}

// Runs `body` inside one read transaction.
template <typename F>
auto InReadTransaction(Db& db, F body) -> decltype(body()) {
  if (auto s = db.Exec("BEGIN"); !s.ok()) return s;
  auto result = body();
  if (auto s = db.Exec("COMMIT"); !s.ok()) {
    db.Exec("ROLLBACK").ok();
    if (result.ok()) return s;
  }
  return result;
}

}  // namespace

const char* CdmDataType(ValueType t) {
  switch (t) {
    case ValueType::kGuid:
      return "guid";
    case ValueType::kString:
      return "string";
    case ValueType::kInt64:
      return "int64";
    case ValueType::kDouble:
      return "double";
    case ValueType::kDecimal:
      return "decimal";
    case ValueType::kBoolean:
      return "boolean";
    case ValueType::kDateTime:
      return "dateTime";
  }
  return "string";
}

int TableSchema::ColumnIndex(std::string_view column) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (EqualsIgnoreCase(columns[i].name, column)) return static_cast<int>(i);
  }
  return -1;
}

Result<ChangeTrackingReport> InstallChangeTracking(const std::string& db_path,
                                                   const std::vector<std::string>& tables,
                                                   const std::string& journal_mode) {
  static const char* const kModes[] = {"wal", "delete", "truncate", "persist"};
  std::string mode = AsciiToLower(journal_mode);
  if (!mode.empty() && std::find(std::begin(kModes), std::end(kModes), mode) == std::end(kModes)) {
    return Status::Error("journal mode \"" + journal_mode +
                         "\" is not one of wal, delete, truncate, persist");
  }
  // The source's journal mode is the application's (docs/sync.md): left
  // alone unless asked for.
  auto db = Db::Open(db_path, Db::Mode::kReadWrite, Db::Journal::kAsIs);
  if (!db) return db.status();
  ChangeTrackingReport report;
  {
    state::Transaction tx(**db);
    if (!tx.status().ok()) return tx.status();
    if (auto s = (*db)->Exec(kChangeLogDdl); !s.ok()) return s.WithContext(db_path);
    if (auto s = (*db)->Exec(kConsumerDdl); !s.ok()) return s.WithContext(db_path);
    // Files tracked by an older linkwatch: tracking without a generation.
    if (!(*db)->Prepare("SELECT generation FROM _linkwatch_tracked").ok()) {
      if (auto s = (*db)->Exec(
              "ALTER TABLE _linkwatch_tracked ADD COLUMN generation INTEGER NOT NULL DEFAULT 0");
          !s.ok()) {
        return s.WithContext(db_path);
      }
    }
    for (const auto& table : tables) {
      auto info = ReadTableInfo(**db, table);
      if (!info) return info.status();
      const std::string& key = info->columns[info->key[0]].name;
      auto tracking = ReadTracking(**db, table);
      if (!tracking) return tracking.status();
      const auto triggers = Triggers(table, key);
      bool current = *tracking && (*tracking)->key == key;
      for (const auto& [name, sql] : triggers) {
        auto st =
            (*db)->Prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1");
        if (!st) return st.status();
        st->Bind(1, name);
        const bool same = st->Step() && st->Text(0) == sql;
        if (!st->status().ok()) return st->status();
        current = current && same;
      }
      if (current) {
        report.unchanged.push_back(table);
        continue;
      }
      // Missing or outdated triggers (dropped, an older linkwatch's, another
      // key): new ones, and a new generation, so that a consumer that read
      // the table before sees the gap (SqliteSource::CheckChain).
      for (const auto& [name, sql] : triggers) {
        if (auto s = (*db)->Exec("DROP TRIGGER IF EXISTS " + QuoteIdent(name) + ";\n" + sql);
            !s.ok()) {
          return s.WithContext("installing change tracking on " + table);
        }
      }
      if (*tracking && (*tracking)->key != key) {
        auto st = (*db)->Prepare("DELETE FROM _linkwatch_changes WHERE tbl = ?1");
        if (!st) return st.status();
        if (auto s = st->Bind(1, table).Run(); !s.ok()) return s;
      }
      auto st = (*db)->Prepare(
          "INSERT OR REPLACE INTO _linkwatch_tracked(tbl, key, enabled_at, generation) "
          "VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), random())");
      if (!st) return st.status();
      if (auto s = st->Bind(1, table).Bind(2, key).Run(); !s.ok()) return s;
      report.installed.push_back(table);
    }
    if (auto s = tx.Commit(); !s.ok()) return s;
  }
  if (!mode.empty()) {
    auto journal = [&](const std::string& sql) -> Result<std::string> {
      auto st = (*db)->Prepare(sql);
      if (!st) return st.status();
      if (!st->Step()) {
        return st->status().ok() ? Status::Error(sql + " gave no row") : st->status();
      }
      return st->Text(0);
    };
    auto before = journal("PRAGMA journal_mode");
    if (!before) return before.status();
    auto after = journal("PRAGMA journal_mode=" + mode);
    if (!after) return after.status().WithContext("setting the journal mode of " + db_path);
    // SQLite answers with the mode in force: the old one when it could not
    // switch (another connection holds the file).
    if (*after != mode) {
      return Status::Error("cannot set the journal mode of " + db_path + " to " + mode +
                           " (it stays " + *after + "; is another program using it?)");
    }
    report.journal_mode_before = *before;
    report.journal_mode = *after;
  }
  return report;
}

Status EnableChangeTracking(const std::string& db_path, const std::vector<std::string>& tables) {
  return InstallChangeTracking(db_path, tables).status();
}

Result<std::unique_ptr<SqliteSource>> SqliteSource::Open(const std::string& path) {
  // Never switches the file to WAL (docs/sync.md): its journal mode is the
  // application's.
  // Nothing at the path, or no file (a folder): nothing a database can be
  // opened from.
  auto info = Env::Default().Stat(path);
  if (!info.ok() || !*info || !(*info)->is_regular) {
    return Status::Error("the sqlite source " + path + " does not exist")
        .WithReason("source_missing");
  }
  auto db = Db::Open(path, Db::Mode::kReadWrite, Db::Journal::kAsIs);
  if (!db) return db.status().WithContext("opening sqlite source " + path);
  return std::unique_ptr<SqliteSource>(new SqliteSource(path, std::move(db).value()));
}

SqliteSource::SqliteSource(std::string path, std::unique_ptr<Db> db)
    : path_(std::move(path)), db_(std::move(db)) {}

SqliteSource::~SqliteSource() = default;

Status SqliteSource::NotOpen() const {
  return Status::Error("sqlite source " + path_ +
                       " is not open (it was replaced and cannot be opened again)")
      .WithReason("source_missing");
}

Status SqliteSource::CheckFile() {
  const std::string wal_path = path_ + "-wal";
  Status same = db_ ? db_->CheckFile() : Status::Error(path_ + " could not be opened");
  if (same.ok() && !lost_) {
    // The file we read and its -wal (none in rollback-journal mode).
    auto wal = state::StatFile(wal_path);
    file_ = db_->identity();
    wal_ = wal.ok() ? std::optional<state::FileIdentity>(*wal) : std::nullopt;
    return same;
  }
  auto now = state::StatFile(path_);
  if (!now.ok()) {
    lost_ = true;
    return Status::Error("the sqlite source " + path_ +
                         " is gone (deleted or moved away); nothing is synced until it is back")
        .WithReason("source_missing");
  }
  // Another file at the path (or the file back after it was gone): whatever
  // it holds, it is not what the committed cursor was read from.
  const std::string what = lost_ ? "is back after it was gone" : "was replaced by another file";
  db_.reset();
  read_with_.clear();
  // SQLite cannot checkpoint a WAL into a file that was moved, so the old
  // file's -wal stays at the path, and any connection to the new file would
  // read its frames as the new file's pages: refused, loudly, until it is
  // gone (our connection to the old file is closed above).
  const bool another_file = !file_ || !now->SameFile(*file_);
  if (auto wal = state::StatFile(wal_path);
      another_file && wal.ok() && wal_ && wal->SameFile(*wal_)) {
    return Status::Error("the sqlite source " + path_ + " " + what + " while in WAL mode, and " +
                         wal_path +
                         " is still the old file's: SQLite would read it as the new file's. "
                         "Stop the programs that had the old file open, then remove " +
                         wal_path + " and " + path_ + "-shm")
        .WithReason("source_replaced");
  }
  auto db = Db::Open(path_, Db::Mode::kReadWrite, Db::Journal::kAsIs);
  if (!db) {
    return db.status().WithContext("opening sqlite source " + path_).WithReason("source_missing");
  }
  db_ = std::move(db).value();
  lost_ = false;
  file_.reset();
  wal_.reset();
  return Status::Break("source_replaced",
                       "the sqlite source " + path_ + " " + what +
                           "; the table is synced again from the file there now");
}

Result<TableSchema> SqliteSource::Describe(const std::string& table) {
  if (!db_) return NotOpen();
  auto info = ReadTableInfo(*db_, table);
  if (!info) return info.status();
  if (auto s = CheckTracked(*db_, table, info->columns[info->key[0]].name); !s.ok()) return s;
  auto defaults = EvaluateDefaults(*db_, *info);
  if (!defaults) return defaults.status().WithContext("table " + table + " in " + db_->path());
  TableSchema schema;
  schema.name = table;
  schema.columns = std::move(info->columns);
  schema.key = info->key[0];
  schema.createdon = schema.ColumnIndex("createdon");
  schema.defaults = std::move(defaults).value();
  return schema;
}

Status SqliteSource::LogChangeOfEveryRow(const TableSchema& table) {
  if (!db_) return NotOpen();
  const std::string key = QuoteIdent(table.columns[table.key].name);
  const std::string t = QuoteIdent(table.name);
  // One write transaction: the rows numbered are the rows counted.
  state::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status();
  const std::string sql =
      "INSERT OR REPLACE INTO _linkwatch_changes(tbl, id, seq, op, at) SELECT " +
      QuoteLiteral(table.name) +
      ", k, (SELECT seq FROM _linkwatch_clock) + row_number() OVER (), " + "'u', " + kNowSql +
      " FROM (SELECT " + key + " AS k FROM " + t + " WHERE " + key +
      " IS NOT NULL);\n"
      "UPDATE _linkwatch_clock SET seq = seq + (SELECT count(*) FROM " +
      t + " WHERE " + key + " IS NOT NULL);\n";
  if (auto s = db_->Exec(sql); !s.ok()) {
    return s.WithContext("logging a change of every row of " + table.name);
  }
  return tx.Commit();
}

Result<int64_t> SqliteSource::RowCount(const TableSchema& table) {
  if (!db_) return NotOpen();
  auto st = db_->Prepare("SELECT count(*) FROM " + QuoteIdent(table.name));
  if (!st) return st.status();
  if (!st->Step()) return st->status().ok() ? Status::Error("count(*) gave no row") : st->status();
  return st->Int(0);
}

Result<bool> SqliteSource::MayHaveKeyTwins(const TableSchema& table) {
  if (!db_) return NotOpen();
  const SourceColumn& key = table.columns[table.key];
  const std::string k = QuoteIdent(key.name), t = QuoteIdent(table.name);
  const std::string declared = AsciiToUpper(key.declared_type);
  std::string sql;
  if (key.type == ValueType::kGuid) {
    // Twins are the two case forms: only possible with an upper-case one.
    sql = "SELECT EXISTS(SELECT 1 FROM " + t + " WHERE " + k + " GLOB '*[A-F]*')";
  } else if (declared.empty() || declared.find("BLOB") != std::string::npos) {
    return true;  // no affinity: numbers, text and blobs side by side
  } else {
    // With an affinity only a blob key can meet another key's Id, and blobs
    // sort last in the key's index.
    sql = "SELECT coalesce((SELECT typeof(" + k + ") FROM " + t + " ORDER BY " + k +
          " DESC LIMIT 1) = 'blob', 0)";
  }
  auto st = db_->Prepare(sql);
  if (!st) return st.status();
  if (!st->Step()) return st->status().ok() ? Result<bool>(false) : Result<bool>(st->status());
  return st->Int(0) != 0;
}

Result<int64_t> SqliteSource::CountKeys(const TableSchema& table,
                                        std::span<const StoredValue> keys) {
  if (!db_) return NotOpen();
  if (keys.empty()) return int64_t{0};
  const std::string k = QuoteIdent(table.columns[table.key].name);
  // typeof() keeps the column's affinity from turning '1' into 1. Cached:
  // asked for changed rows of every incremental round.
  const std::string sql = "SELECT count(*) FROM " + QuoteIdent(table.name) + " WHERE " + k +
                          " = ?1 AND typeof(" + k + ") = ?2";
  state::Statement* st = db_->Cached(sql);
  if (st == nullptr) {
    auto prepared = db_->Prepare(sql);  // for its error message
    return prepared.ok() ? Status::Error("cannot prepare " + sql) : prepared.status();
  }
  int64_t n = 0;
  for (const StoredValue& key : keys) {
    st->Reset();
    switch (key.kind) {
      case Value::Kind::kInt:
        st->Bind(1, key.i).Bind(2, "integer");
        break;
      case Value::Kind::kReal:
        st->Bind(1, key.d).Bind(2, "real");
        break;
      case Value::Kind::kText:
        st->Bind(1, std::string_view(key.bytes)).Bind(2, "text");
        break;
      case Value::Kind::kBlob:
        st->BindBlob(1, key.bytes).Bind(2, "blob");
        break;
      case Value::Kind::kNull:
        continue;
    }
    if (!st->Step())
      return st->status().ok() ? Status::Error("count(*) gave no row") : st->status();
    n += st->Int(0);
    // A cached statement left mid-result would hold its read snapshot open
    // after the round's transaction ends.
    st->Reset();
  }
  return n;
}

Cursor SqliteSource::CursorAt(int64_t sequence) { return std::to_string(sequence); }

Result<int64_t> SqliteSource::SequenceOf(const Cursor& cursor) {
  int64_t seq = 0;
  const char* end = cursor.data() + cursor.size();
  auto [ptr, ec] = std::from_chars(cursor.data(), end, seq);
  if (cursor.empty() || ec != std::errc() || ptr != end || seq < 0) {
    return Status::Error("\"" + cursor.substr(0, 64) +
                         "\" is not a cursor of a sqlite source (a change-log sequence number)");
  }
  return seq;
}

Result<int64_t> SqliteSource::CommittedSequence(const std::string& table,
                                                const Cursor& committed) const {
  auto seq = SequenceOf(committed);
  if (seq.ok()) return seq;
  return Status::Break("source_replaced", "the committed cursor of table \"" + table +
                                              "\": " + seq.message() + "; " + path_ +
                                              " is not the source it was read from");
}

Result<int64_t> SqliteSource::HeadSequence() {
  if (!db_) return NotOpen();
  auto st = db_->Prepare("SELECT seq FROM _linkwatch_clock");
  if (!st) return st.status();
  if (!st->Step()) return st->status().ok() ? Result<int64_t>(int64_t{0}) : st->status();
  return st->Int(0);
}

Result<Cursor> SqliteSource::Head() {
  auto seq = HeadSequence();
  if (!seq) return seq.status();
  return CursorAt(*seq);
}

Result<bool> SqliteSource::ChangesWaiting(const TableSchema& table, const Cursor& after) {
  if (!db_) return NotOpen();
  auto seq = CommittedSequence(table.name, after);
  if (!seq) return seq.status();
  auto st = db_->Prepare("SELECT 1 FROM _linkwatch_changes WHERE tbl = ?1 AND seq > ?2 LIMIT 1");
  if (!st) return st.status();
  st->Bind(1, table.name).Bind(2, *seq);
  const bool waiting = st->Step();
  if (!st->status().ok()) return st->status();
  st->Reset();
  return waiting;
}

Result<int64_t> SqliteSource::SchemaVersion() {
  if (!db_) return NotOpen();
  auto st = db_->Prepare("PRAGMA schema_version");
  if (!st) return st.status();
  if (!st->Step()) return st->status().ok() ? Status::Error("no schema_version") : st->status();
  return st->Int(0);
}

Result<int64_t> SqliteSource::DataVersion() {
  if (!db_) return NotOpen();
  return db_->DataVersion();
}

Result<Cursor> SqliteSource::ReadAll(const TableSchema& table, const RowCallback& row) {
  if (!db_) return NotOpen();
  return InReadTransaction(*db_, [&]() -> Result<Cursor> {
    auto head = HeadSequence();
    if (!head) return head.status();
    // What a checkpoint of this read records: the tracking it was read with.
    auto tracking = ReadTracking(*db_, table.name);
    if (!tracking) return tracking.status();
    if (*tracking) read_with_[table.name] = **tracking;
    // `+t.key`: without it an INTEGER key's affinity would be applied to
    // l.id (which has none), and SQLite could then search the log by tbl
    // only, once per row: minutes for a big table with many changes. The log
    // holds the key exactly as the table stores it (the triggers copy it).
    auto st = db_->Prepare("SELECT coalesce(l.seq, 0), coalesce(l.at, 0)" + SelectList(table, "t") +
                           " FROM " + QuoteIdent(table.name) +
                           " AS t LEFT JOIN _linkwatch_changes AS l ON l.tbl = ?1 AND l.id = +t." +
                           QuoteIdent(table.columns[table.key].name) + " WHERE t." +
                           QuoteIdent(table.columns[table.key].name) + " IS NOT NULL");
    if (!st) return st.status();
    st->Bind(1, table.name);
    std::vector<Value> values(table.columns.size());
    RowView view;
    view.created = true;
    while (st->Step()) {
      view.version = st->Int(0);
      view.changed_at = st->Real(1);
      for (size_t c = 0; c < values.size(); ++c) values[c] = ValueAt(*st, static_cast<int>(c) + 2);
      view.key = values[table.key];
      view.values = values;
      if (auto s = row(view); !s.ok()) return s;
    }
    if (!st->status().ok()) return st->status().WithContext("reading " + table.name);
    return CursorAt(*head);
  });
}

Result<Cursor> SqliteSource::ReadChanges(const TableSchema& table, const Cursor& after_cursor,
                                         size_t limit, const RowCallback& row) {
  if (!db_) return NotOpen();
  auto after_seq = CommittedSequence(table.name, after_cursor);
  if (!after_seq) return after_seq.status();
  const int64_t after = *after_seq;
  return InReadTransaction(*db_, [&]() -> Result<Cursor> {
    // Tracking reinstalled since CheckChain (in the same read transaction as
    // the changes, so a checkpoint never records a generation unchecked).
    if (auto it = read_with_.find(table.name); it != read_with_.end()) {
      auto tracking = ReadTracking(*db_, table.name);
      if (!tracking) return tracking.status();
      if (!*tracking || !(**tracking == it->second)) {
        return Status::Break("tracking_gap", "change tracking of table \"" + table.name + "\" in " +
                                                 path_ +
                                                 " was removed or installed again meanwhile");
      }
    }
    auto st = db_->Prepare("SELECT l.seq, l.op, l.at, l.id, t." +
                           QuoteIdent(table.columns[table.key].name) + SelectList(table, "t") +
                           " FROM _linkwatch_changes AS l LEFT JOIN " + QuoteIdent(table.name) +
                           " AS t ON t." + QuoteIdent(table.columns[table.key].name) +
                           " = l.id WHERE l.tbl = ?1 AND l.seq > ?2 ORDER BY l.seq LIMIT ?3");
    if (!st) return st.status();
    st->Bind(1, table.name).Bind(2, after).Bind(3, static_cast<int64_t>(limit));
    std::vector<Value> values(table.columns.size());
    int64_t last = after;
    RowView view;
    while (st->Step()) {
      last = st->Int(0);
      view.version = last;
      view.changed_at = st->Real(2);
      // A key logged as changed but no longer in the table was deleted.
      view.deleted = st->TextView(1) == "d" || st->IsNull(4);
      view.created = !view.deleted && st->TextView(1) == "c";
      view.key = ValueAt(*st, 3);
      if (view.deleted) {
        view.values = {};
      } else {
        for (size_t c = 0; c < values.size(); ++c) {
          values[c] = ValueAt(*st, static_cast<int>(c) + 5);
        }
        view.values = values;
      }
      if (auto s = row(view); !s.ok()) return s;
    }
    if (!st->status().ok()) return st->status().WithContext("reading changes of " + table.name);
    return CursorAt(last);
  });
}

Status SqliteSource::CheckChain(const std::string& table, const std::string& consumer,
                                const Cursor& committed_cursor) {
  if (!db_) return NotOpen();
  auto committed_seq = CommittedSequence(table, committed_cursor);
  if (!committed_seq) return committed_seq.status();
  const int64_t committed = *committed_seq;
  const std::string where = "table \"" + table + "\" in " + path_;
  return InReadTransaction(*db_, [&]() -> Status {
    auto exists = HasTable(*db_, table);
    if (!exists) return exists.status();
    if (!*exists) {
      return Status::Break("table_recreated",
                           where +
                               " was dropped after linkwatch synced it; it is synced again "
                               "from scratch once it is back and tracked");
    }
    auto tracking = ReadTracking(*db_, table);
    if (!tracking) return tracking.status();
    auto triggers = CountTriggers(*db_, table);
    if (!triggers) return triggers.status();
    if (!*tracking || *triggers != 3) {
      return Status::Break("tracking_gap",
                           where +
                               " lost its change tracking after linkwatch synced it, so changes "
                               "from then on are not logged; it is synced again from scratch once "
                               "tracking is back: " +
                               EnableCommand(path_, table));
    }
    auto head = HeadSequence();
    if (!head) return head.status();
    if (*head < committed) {
      return Status::Break("source_restored",
                           "the change clock of " + path_ + " is at " + std::to_string(*head) +
                               ", behind the committed cursor " + std::to_string(committed) +
                               " of table \"" + table + "\" (restored from a backup?)");
    }
    auto has_consumers = HasTable(*db_, "_linkwatch_consumer");
    if (!has_consumers) return has_consumers.status();
    std::optional<std::pair<int64_t, Tracking>> checkpoint;
    if (*has_consumers) {
      auto st = db_->Prepare(
          "SELECT cursor, generation, key FROM _linkwatch_consumer WHERE consumer = ?1");
      if (!st) return st.status();
      st->Bind(1, consumer);
      if (st->Step()) checkpoint.emplace(st->Int(0), Tracking{st->Int(1), st->Text(2)});
      if (!st->status().ok()) return st->status();
    }
    if (!checkpoint) {
      return Status::Break("source_replaced",
                           path_ + " holds no checkpoint of table \"" + table +
                               "\" although linkwatch committed its changes up to " +
                               std::to_string(committed) +
                               ": it is not the file they were read from (replaced, or restored "
                               "from a backup older than the first sync)");
    }
    if (checkpoint->first < committed) {
      return Status::Break("source_restored",
                           path_ + " was restored from a backup: its checkpoint of table \"" +
                               table + "\" is at " + std::to_string(checkpoint->first) +
                               ", behind the committed cursor " + std::to_string(committed));
    }
    if (checkpoint->second.key != (*tracking)->key) {
      return Status::Break("key_changed", where + " changed its primary key from " +
                                              checkpoint->second.key + " to " + (*tracking)->key +
                                              "; its records are written again under the new Id");
    }
    if (checkpoint->second.generation != (*tracking)->generation) {
      return Status::Break("tracking_gap",
                           "change tracking of " + where +
                               " was installed again after linkwatch synced it, so changes made "
                               "while it was missing were never logged");
    }
    read_with_[table] = **tracking;
    return Status::Ok();
  });
}

Status SqliteSource::Checkpoint(const TableSchema& table, const std::string& consumer,
                                const Cursor& cursor_text) {
  if (!db_) return NotOpen();
  auto cursor = SequenceOf(cursor_text);
  if (!cursor) return cursor.status();
  auto it = read_with_.find(table.name);
  if (it == read_with_.end()) {
    return Status::Error("no read of table \"" + table.name + "\" to checkpoint in " + path_);
  }
  state::Transaction tx(*db_);
  if (!tx.status().ok()) return tx.status().WithContext("writing the checkpoint of " + table.name);
  if (auto s = db_->Exec(kConsumerDdl); !s.ok()) return s;
  auto st = db_->Prepare(
      "INSERT OR REPLACE INTO _linkwatch_consumer(consumer, tbl, cursor, generation, key, at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))");
  if (!st) return st.status();
  if (auto s = st->Bind(1, consumer)
                   .Bind(2, table.name)
                   .Bind(3, *cursor)
                   .Bind(4, it->second.generation)
                   .Bind(5, it->second.key)
                   .Run();
      !s.ok()) {
    return s.WithContext("writing the checkpoint of " + table.name);
  }
  return tx.Commit();
}

}  // namespace linkwatch::sync

namespace linkwatch::sync {

// The `sqlite` source type (source_registry.cc): a change-tracked SQLite file
// at `path`.
SourceOpener MakeSqliteSource(const YAML::Node& spec, const BlockContext& ctx) {
  if (!ctx.CheckKeys(spec, {}) || !ctx.NeedsPath(spec)) return {};
  return [path = ctx.path]() -> Result<std::unique_ptr<Source>> {
    auto opened = SqliteSource::Open(path);
    if (!opened) return opened.status();
    return std::unique_ptr<Source>(std::move(opened).value());
  };
}

}  // namespace linkwatch::sync
