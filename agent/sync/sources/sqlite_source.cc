#include "agent/sync/sources/sqlite_source.h"

#include <algorithm>
#include <cctype>

#include "agent/state/db.h"
#include "agent/sync/destinations/lake_format.h"

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

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// lake-format.md "Rows from a SQLite source": types from the declared type,
// in SQLite's affinity order, with the date names and BOOLEAN first.
SourceColumn ColumnOf(std::string name, std::string declared) {
  SourceColumn c;
  const std::string t = Upper(declared);
  const std::string lower_name = [&] {
    std::string s = name;
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }();
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
  enabled_at TEXT NOT NULL);
)sql";

// Epoch seconds with milliseconds, in any SQLite version.
constexpr const char* kNowSql = "((julianday('now') - 2440587.5) * 86400.0)";

std::string TriggerName(const std::string& table, const char* kind) {
  return QuoteIdent("_linkwatch_" + table + "_" + kind);
}

// One trigger statement pair: take the next sequence number, log the change.
std::string LogChange(const std::string& table, const std::string& key_expr, const char* op,
                      const std::string& where = "") {
  return "UPDATE _linkwatch_clock SET seq = seq + 1" + (where.empty() ? "" : " WHERE " + where) +
         ";\n  INSERT OR REPLACE INTO _linkwatch_changes(tbl, id, seq, op, at) SELECT " +
         QuoteLiteral(table) + ", " + key_expr + ", seq, '" + op + "', " + kNowSql +
         " FROM _linkwatch_clock" + (where.empty() ? "" : " WHERE " + where) + ";\n";
}

std::string TriggersDdl(const std::string& table, const std::string& key) {
  const std::string t = QuoteIdent(table), k = QuoteIdent(key);
  const std::string old_k = "OLD." + k, new_k = "NEW." + k;
  // Keys compare byte for byte (a NOCASE key changing only its case is a new
  // key). Rows with a NULL key (SQLite allows them in rowid tables) are not
  // tracked rather than failing the application's write.
  const std::string same = old_k + " IS " + new_k + " COLLATE BINARY";
  const std::string moved = old_k + " IS NOT " + new_k + " COLLATE BINARY";
  std::string sql;
  sql += "CREATE TRIGGER IF NOT EXISTS " + TriggerName(table, "insert") + " AFTER INSERT ON " + t +
         " WHEN " + new_k + " IS NOT NULL BEGIN\n  " + LogChange(table, new_k, "c") + "END;\n";
  // A key that changes is a delete of the old key and a create of the new.
  sql += "CREATE TRIGGER IF NOT EXISTS " + TriggerName(table, "update") + " AFTER UPDATE ON " + t +
         " BEGIN\n  " + LogChange(table, old_k, "d", old_k + " IS NOT NULL AND " + moved) + "  " +
         LogChange(table, new_k, "u", new_k + " IS NOT NULL AND " + same) + "  " +
         LogChange(table, new_k, "c", new_k + " IS NOT NULL AND " + moved) + "END;\n";
  sql += "CREATE TRIGGER IF NOT EXISTS " + TriggerName(table, "delete") + " AFTER DELETE ON " + t +
         " WHEN " + old_k + " IS NOT NULL BEGIN\n  " + LogChange(table, old_k, "d") + "END;\n";
  return sql;
}

Result<bool> IsTracked(Db& db, const std::string& table) {
  auto st = db.Prepare(
      "SELECT (SELECT count(*) FROM sqlite_master WHERE name = '_linkwatch_tracked') AND "
      "(SELECT count(*) FROM _linkwatch_tracked WHERE tbl = ?1) AND "
      "(SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1 AND name IN "
      "('_linkwatch_' || ?1 || '_insert', '_linkwatch_' || ?1 || '_update', "
      "'_linkwatch_' || ?1 || '_delete')) = 3");
  if (!st) {
    // _linkwatch_tracked does not exist: nothing is tracked yet.
    return false;
  }
  st->Bind(1, table);
  if (!st->Step()) return st->status().ok() ? Result<bool>(false) : Result<bool>(st->status());
  return st->Int(0) != 0;
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
    const std::string upper = Upper(expr);
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
    if (columns[i].name.size() == column.size() &&
        std::equal(column.begin(), column.end(), columns[i].name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

Status EnableChangeTracking(const std::string& db_path, const std::vector<std::string>& tables) {
  auto db = Db::Open(db_path, Db::Mode::kReadWrite);
  if (!db) return db.status();
  state::Transaction tx(**db);
  if (!tx.status().ok()) return tx.status();
  if (auto s = (*db)->Exec(kChangeLogDdl); !s.ok()) return s.WithContext(db_path);
  for (const auto& table : tables) {
    auto info = ReadTableInfo(**db, table);
    if (!info) return info.status();
    const std::string& key = info->columns[info->key[0]].name;
    if (auto s = (*db)->Exec(TriggersDdl(table, key)); !s.ok()) {
      return s.WithContext("installing change tracking on " + table);
    }
    auto st = (*db)->Prepare(
        "INSERT OR IGNORE INTO _linkwatch_tracked(tbl, key, enabled_at) "
        "VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))");
    if (!st) return st.status();
    if (auto s = st->Bind(1, table).Bind(2, key).Run(); !s.ok()) return s;
  }
  return tx.Commit();
}

Result<std::unique_ptr<SqliteSource>> SqliteSource::Open(const std::string& path) {
  auto db = Db::Open(path, Db::Mode::kReadWrite);
  if (!db) return db.status().WithContext("opening sqlite source " + path);
  return std::unique_ptr<SqliteSource>(new SqliteSource(std::move(db).value()));
}

SqliteSource::SqliteSource(std::unique_ptr<Db> db) : db_(std::move(db)) {}
SqliteSource::~SqliteSource() = default;

Result<TableSchema> SqliteSource::Describe(const std::string& table) {
  auto info = ReadTableInfo(*db_, table);
  if (!info) return info.status();
  auto tracked = IsTracked(*db_, table);
  if (!tracked) return tracked.status();
  if (!*tracked) {
    return Status::Error("table \"" + table + "\" in " + db_->path() +
                         " has no change tracking; enable it with: linkwatch source "
                         "enable-change-tracking --db " +
                         db_->path() + " --table " + table);
  }
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
  auto st = db_->Prepare("SELECT count(*) FROM " + QuoteIdent(table.name));
  if (!st) return st.status();
  if (!st->Step()) return st->status().ok() ? Status::Error("count(*) gave no row") : st->status();
  return st->Int(0);
}

Result<bool> SqliteSource::MayHaveKeyTwins(const TableSchema& table) {
  const SourceColumn& key = table.columns[table.key];
  const std::string k = QuoteIdent(key.name), t = QuoteIdent(table.name);
  const std::string declared = Upper(key.declared_type);
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

Result<Cursor> SqliteSource::Head() {
  auto st = db_->Prepare("SELECT seq FROM _linkwatch_clock");
  if (!st) return st.status();
  if (!st->Step()) return st->status().ok() ? Result<Cursor>(Cursor{0}) : st->status();
  return st->Int(0);
}

Result<int64_t> SqliteSource::SchemaVersion() {
  auto st = db_->Prepare("PRAGMA schema_version");
  if (!st) return st.status();
  if (!st->Step()) return st->status().ok() ? Status::Error("no schema_version") : st->status();
  return st->Int(0);
}

Result<Cursor> SqliteSource::ReadAll(const TableSchema& table, const RowCallback& row) {
  return InReadTransaction(*db_, [&]() -> Result<Cursor> {
    auto head = Head();
    if (!head) return head;
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
    return *head;
  });
}

Result<Cursor> SqliteSource::ReadChanges(const TableSchema& table, Cursor after, size_t limit,
                                         const RowCallback& row) {
  return InReadTransaction(*db_, [&]() -> Result<Cursor> {
    auto st = db_->Prepare("SELECT l.seq, l.op, l.at, l.id, t." +
                           QuoteIdent(table.columns[table.key].name) + SelectList(table, "t") +
                           " FROM _linkwatch_changes AS l LEFT JOIN " + QuoteIdent(table.name) +
                           " AS t ON t." + QuoteIdent(table.columns[table.key].name) +
                           " = l.id WHERE l.tbl = ?1 AND l.seq > ?2 ORDER BY l.seq LIMIT ?3");
    if (!st) return st.status();
    st->Bind(1, table.name).Bind(2, after).Bind(3, static_cast<int64_t>(limit));
    std::vector<Value> values(table.columns.size());
    Cursor last = after;
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
    return last;
  });
}

}  // namespace linkwatch::sync
