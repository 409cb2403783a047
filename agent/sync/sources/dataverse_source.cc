#include "agent/sync/sources/dataverse_source.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "agent/core/problem.h"
#include "agent/core/time_format.h"
#include "agent/dataverse/settings.h"
#include "agent/sync/source_registry.h"

namespace linkwatch::sync {
namespace {

using dataverse::ODataRow;
using dataverse::ODataValue;
using json = nlohmann::json;

constexpr std::string_view kCursorPrefix = "dataverse:";

// A link that resumes change tracking at a delta token, not at a page of a
// read in progress ($skiptoken). Either may come percent-encoded.
bool IsDeltaLink(std::string_view link) {
  auto has = [&](std::string_view name) {
    return link.find("$" + std::string(name) + "=") != std::string_view::npos ||
           link.find("%24" + std::string(name) + "=") != std::string_view::npos;
  };
  return has("deltatoken") && !has("skiptoken");
}

// The lake's type of a Dataverse attribute type (AttributeMetadata's
// AttributeType); nullopt for types that hold no column value (Virtual,
// ManagedProperty, CalendarRules, PartyList, files and images).
std::optional<ValueType> TypeOf(std::string_view t) {
  if (t == "Uniqueidentifier" || t == "Lookup" || t == "Owner" || t == "Customer") {
    return ValueType::kGuid;
  }
  if (t == "String" || t == "Memo" || t == "EntityName") return ValueType::kString;
  if (t == "Integer" || t == "BigInt" || t == "Picklist" || t == "State" || t == "Status") {
    return ValueType::kInt64;
  }
  if (t == "Double") return ValueType::kDouble;
  if (t == "Decimal" || t == "Money") return ValueType::kDecimal;
  if (t == "Boolean") return ValueType::kBoolean;
  if (t == "DateTime") return ValueType::kDateTime;
  return std::nullopt;
}

bool IsLookup(std::string_view t) { return t == "Lookup" || t == "Owner" || t == "Customer"; }

// A column's name in a row: a lookup `x` travels as `_x_value`.
std::string WireName(const SourceColumn& c) {
  return IsLookup(c.declared_type) ? "_" + c.name + "_value" : c.name;
}

// Dataverse's own error codes stay in the message: as a reason they would
// become metric labels.
Status Plain(const Status& s) {
  if (s.ok() || s.is_break() || !s.reason().starts_with("0x")) return s;
  return Status::Error(s.message());
}

std::optional<int64_t> IntOf(std::string_view text) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

// Metadata fields of the expected type, else `fallback` (never nlohmann's
// value(), which throws on a field of another type).
int64_t IntOr(const nlohmann::json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return fallback;
  const int64_t v = it->get<int64_t>();
  return v >= INT32_MIN && v <= INT32_MAX ? v : fallback;
}
bool BoolOr(const nlohmann::json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// W/"1234" (the row's versionnumber in Dataverse's etags).
std::optional<int64_t> VersionOfEtag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return IntOf(etag);
}

}  // namespace

DataverseSource::DataverseSource(dataverse::WebApiSettings settings, const Clock& clock)
    : client_(std::make_unique<dataverse::WebApiClient>(std::move(settings), clock)),
      clock_(clock),
      shared_(SharedFor(client_->api_base())) {}

DataverseSource::~DataverseSource() = default;

std::optional<DataverseSource::CursorParts> DataverseSource::ParseCursor(const Cursor& cursor) {
  std::string_view c = cursor;
  if (!c.starts_with(kCursorPrefix)) return std::nullopt;
  c.remove_prefix(kCursorPrefix.size());
  const size_t a = c.find(':');
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = c.find(':', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  CursorParts parts;
  auto version = IntOf(c.substr(0, a));
  auto issued = IntOf(c.substr(a + 1, b - a - 1));
  if (!version || !issued) return std::nullopt;
  parts.max_version = *version;
  parts.issued = static_cast<double>(*issued);
  parts.link = std::string(c.substr(b + 1));
  if (parts.link.empty()) return std::nullopt;
  return parts;
}

Cursor DataverseSource::MakeCursor(const CursorParts& parts) {
  return std::string(kCursorPrefix) + std::to_string(parts.max_version) + ":" +
         std::to_string(static_cast<int64_t>(parts.issued)) + ":" + parts.link;
}

Result<DataverseSource::Described> DataverseSource::Fetch(const std::string& name) {
  if (!dataverse::IsLogicalName(name)) {
    return Status::Error("table " + name +
                         ": not a Dataverse logical name (lower-case letters, digits and _)");
  }
  auto doc =
      client_->GetDocument("EntityDefinitions(LogicalName='" + name + "')?$expand=Attributes");
  if (!doc) {
    if (doc.status().reason() == "0x80040217") {
      return Status::Error("table " + name + " is not in the Dataverse environment " +
                           client_->api_base() + " (" + doc.status().message() + ")");
    }
    return Plain(doc.status()).WithContext("describing table " + name);
  }
  const json& d = *doc;
  auto text = [&](const json& j, const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Described out;
  out.table.entity_set = text(d, "EntitySetName");
  const std::string primary = text(d, "PrimaryIdAttribute");
  if (out.table.entity_set.empty() || primary.empty() || !d.contains("Attributes") ||
      !d["Attributes"].is_array()) {
    return Status::Error("describing table " + name +
                         ": the metadata lacks EntitySetName, PrimaryIdAttribute or Attributes");
  }
  if (auto ct = d.find("ChangeTrackingEnabled"); ct == d.end() || (ct->is_boolean() && !*ct)) {
    return Status::Error(
        "table " + name +
        " does not have change tracking enabled in Dataverse (ChangeTrackingEnabled is false), "
        "so its changes cannot be followed: turn on \"Track changes\" in the table's properties "
        "(Power Apps: Tables > " +
        name + " > Properties > Advanced options)");
  }
  struct Attr {
    int column_number;
    SourceColumn column;
  };
  std::vector<Attr> attrs;
  for (const json& a : d["Attributes"]) {
    if (!a.is_object()) continue;
    const std::string logical = text(a, "LogicalName");
    const std::string type = text(a, "AttributeType");
    if (logical.empty()) continue;
    if (auto of = a.find("AttributeOf"); of != a.end() && !of->is_null()) continue;
    if (!BoolOr(a, "IsValidForRead", true) || !BoolOr(a, "IsValidODataAttribute", true)) continue;
    if (logical == "versionnumber") {
      out.table.has_versionnumber = true;
      continue;
    }
    auto vt = TypeOf(type);
    if (!vt) continue;
    Attr attr;
    attr.column_number = static_cast<int>(IntOr(a, "ColumnNumber", 0));
    attr.column.name = logical;
    attr.column.type = *vt;
    attr.column.declared_type = type;
    if (*vt == ValueType::kDecimal) {
      // Money is stored with 4 decimals, Decimal with up to 10 (its
      // Precision says how many it shows; stored values never have more).
      attr.column.precision = 38;
      attr.column.scale = type == "Money" ? 4 : 10;
    }
    ColumnMetadata& m = attr.column.metadata;
    m.max_length = static_cast<int>(IntOr(a, "MaxLength", -1));
    m.precision = static_cast<int>(IntOr(a, "Precision", -1));
    if (auto it = a.find("Targets"); it != a.end() && it->is_array()) {
      for (const auto& t : *it) {
        if (t.is_string()) m.targets.push_back({t.get<std::string>(), ""});
      }
    }
    m.choice = type == "Picklist" ? ColumnMetadata::Choice::kPicklist
               : type == "State"  ? ColumnMetadata::Choice::kState
               : type == "Status" ? ColumnMetadata::Choice::kStatus
                                  : ColumnMetadata::Choice::kNone;
    attrs.push_back(std::move(attr));
  }
  // The choices' options: one request per kind of choice the table has.
  for (const char* kind : {"Picklist", "State", "Status"}) {
    if (std::none_of(attrs.begin(), attrs.end(),
                     [&](const Attr& a) { return a.column.declared_type == kind; })) {
      continue;
    }
    const bool picklist = std::string_view(kind) == "Picklist";
    auto options = client_->GetDocument("EntityDefinitions(LogicalName='" + name +
                                        "')/Attributes/Microsoft.Dynamics.CRM." + kind +
                                        "AttributeMetadata?$select=LogicalName&$expand=OptionSet" +
                                        (picklist ? ",GlobalOptionSet" : ""));
    if (!options) return Plain(options.status()).WithContext("reading the choices of " + name);
    if (!options->contains("value") || !(*options)["value"].is_array()) continue;
    for (const json& a : (*options)["value"]) {
      if (!a.is_object()) continue;
      auto attr = std::find_if(attrs.begin(), attrs.end(), [&](const Attr& x) {
        return x.column.name == text(a, "LogicalName");
      });
      if (attr == attrs.end()) continue;
      const json* set = nullptr;
      for (const char* key : {"OptionSet", "GlobalOptionSet"}) {
        if (set == nullptr && a.contains(key) && a[key].is_object()) set = &a[key];
      }
      if (set == nullptr) continue;
      ColumnMetadata& m = attr->column.metadata;
      if (BoolOr(*set, "IsGlobal", false)) m.option_set = text(*set, "Name");
      if (!set->contains("Options") || !(*set)["Options"].is_array()) continue;
      for (const json& o : (*set)["Options"]) {
        if (!o.is_object() || !o.contains("Value") || !o["Value"].is_number_integer()) continue;
        ChoiceOption option;
        option.value = o["Value"].get<int64_t>();
        if (o.contains("State") && o["State"].is_number_integer()) {
          option.state = o["State"].get<int64_t>();
        }
        // The user's label, else the first localized one.
        const json* label = nullptr;
        if (o.contains("Label") && o["Label"].is_object()) {
          const json& l = o["Label"];
          if (l.contains("UserLocalizedLabel") && l["UserLocalizedLabel"].is_object()) {
            label = &l["UserLocalizedLabel"];
          } else if (l.contains("LocalizedLabels") && l["LocalizedLabels"].is_array() &&
                     !l["LocalizedLabels"].empty() && l["LocalizedLabels"][0].is_object()) {
            label = &l["LocalizedLabels"][0];
          }
        }
        if (label != nullptr) {
          option.label = text(*label, "Label");
          option.language = static_cast<int>(IntOr(*label, "LanguageCode", 1033));
        }
        m.options.push_back(std::move(option));
      }
    }
  }
  // The column each lookup refers to (accountid; activityid for an
  // activity): one request when the table has lookups.
  if (std::any_of(attrs.begin(), attrs.end(),
                  [](const Attr& a) { return !a.column.metadata.targets.empty(); })) {
    auto relations = client_->GetDocument(
        "EntityDefinitions(LogicalName='" + name +
        "')/ManyToOneRelationships?$select=ReferencingAttribute,ReferencedEntity,"
        "ReferencedAttribute");
    if (!relations) return Plain(relations.status()).WithContext("reading the lookups of " + name);
    std::map<std::pair<std::string, std::string>, std::string> referenced;
    if (relations->contains("value") && (*relations)["value"].is_array()) {
      for (const json& r : (*relations)["value"]) {
        if (!r.is_object()) continue;
        referenced[{text(r, "ReferencingAttribute"), text(r, "ReferencedEntity")}] =
            text(r, "ReferencedAttribute");
      }
    }
    for (Attr& a : attrs) {
      for (LookupTarget& t : a.column.metadata.targets) {
        auto it = referenced.find({a.column.name, t.table});
        // One Dataverse does not list (none should be): by its naming.
        t.attribute = it != referenced.end() && !it->second.empty() ? it->second : t.table + "id";
      }
    }
  }
  std::stable_sort(attrs.begin(), attrs.end(),
                   [](const Attr& x, const Attr& y) { return x.column_number < y.column_number; });
  TableSchema& schema = out.schema;
  schema.name = name;
  for (const auto& a : attrs) {
    const int index = static_cast<int>(schema.columns.size());
    if (a.column.name == primary) schema.key = index;
    if (a.column.name == "createdon") schema.createdon = index;
    out.table.signature += a.column.name + ":" + a.column.declared_type + ";";
    for (const auto& o : a.column.metadata.options) {
      out.table.signature += std::to_string(o.value) + "=" + o.label + ";";
    }
    schema.columns.push_back(a.column);
  }
  if (schema.key < 0 || schema.columns[schema.key].type != ValueType::kGuid) {
    return Status::Error("table " + name + ": its primary id attribute " + primary +
                         " is not a readable uniqueidentifier");
  }
  return out;
}

struct DataverseSource::Shared {
  std::mutex mu;
  std::map<std::string, Table> tables;  // by logical name
  int64_t version = 0;
  TimePoint checked{};
};

std::shared_ptr<DataverseSource::Shared> DataverseSource::SharedFor(const std::string& api_base) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<Shared>> all;
  std::lock_guard<std::mutex> lock(mu);
  std::weak_ptr<Shared>& slot = all[api_base];
  std::shared_ptr<Shared> shared = slot.lock();
  if (!shared) {
    shared = std::make_shared<Shared>();
    slot = shared;
  }
  return shared;
}

Result<TableSchema> DataverseSource::Describe(const std::string& table) {
  auto described = Fetch(table);
  if (!described) return described.status();
  std::lock_guard<std::mutex> lock(shared_->mu);
  auto [it, added] = shared_->tables.try_emplace(table, described->table);
  if (!added && it->second.signature != described->table.signature) {
    it->second = described->table;
    ++shared_->version;  // the other connections' tables describe it again
  }
  if (shared_->checked == TimePoint{}) shared_->checked = clock_.Now();
  return std::move(described->schema);
}

Result<DataverseSource::Table> DataverseSource::Known(const TableSchema& schema) {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    auto it = shared_->tables.find(schema.name);
    if (it != shared_->tables.end()) return it->second;
  }
  auto described = Fetch(schema.name);
  if (!described) return described.status();
  return described->table;
}

Result<int64_t> DataverseSource::RowCount(const TableSchema& table) {
  if (!dataverse::IsLogicalName(table.name))
    return Status::Error("table " + table.name + ": not a logical name");
  // EntityNames through a parameter alias: ['account'], percent-encoded.
  auto doc = client_->GetDocument("RetrieveTotalRecordCount(EntityNames=@p1)?@p1=%5B%27" +
                                  table.name + "%27%5D");
  if (!doc) return Plain(doc.status()).WithContext("counting the rows of " + table.name);
  const json* c = nullptr;
  if (doc->is_object() && doc->contains("EntityRecordCountCollection")) {
    c = &(*doc)["EntityRecordCountCollection"];
  }
  if (c != nullptr && c->is_object() && c->contains("Keys") && c->contains("Values") &&
      (*c)["Keys"].is_array() && (*c)["Values"].is_array()) {
    const json& keys = (*c)["Keys"];
    const json& values = (*c)["Values"];
    for (size_t i = 0; i < keys.size() && i < values.size(); ++i) {
      if (keys[i] == table.name && values[i].is_number_integer()) return values[i].get<int64_t>();
    }
  }
  return Status::Error("counting the rows of " + table.name +
                       ": RetrieveTotalRecordCount did not answer a count for it");
}

Result<dataverse::ODataPageEnd> DataverseSource::Read(const TableSchema& schema,
                                                      const std::string& target, size_t limit,
                                                      int64_t& max_version, bool initial,
                                                      const RowCallback& row) {
  const size_t ncols = schema.columns.size();
  std::vector<std::string> wire;
  for (const auto& c : schema.columns) wire.push_back(WireName(c));
  std::unordered_map<std::string_view, int> index;
  for (size_t i = 0; i < ncols; ++i) index.emplace(wire[i], static_cast<int>(i));
  const int createdon = schema.createdon;
  const int modifiedon = schema.ColumnIndex("modifiedon");
  // One page of rows, owned until the page was read whole: values in one
  // arena, views made when they are handed over.
  struct Cell {
    bool null = true;
    uint32_t off = 0, len = 0;
  };
  struct Pending {
    int64_t version = 0;
    bool deleted = false, created = false;
    double changed_at = 0;
    Cell key;
  };
  std::string arena;
  std::vector<Cell> cells;
  std::vector<Pending> rows;
  size_t delivered = 0;
  auto keep = [&](std::string_view text) {
    Cell c;
    c.null = false;
    c.off = static_cast<uint32_t>(arena.size());
    c.len = static_cast<uint32_t>(text.size());
    arena.append(text);
    return c;
  };
  auto view = [&](const Cell& c) { return std::string_view(arena).substr(c.off, c.len); };

  dataverse::PageReader reader;
  reader.page_size =
      limit > 0 ? static_cast<int>(std::min<size_t>(limit, dataverse::kMaxPageSize)) : 0;
  reader.row = [&](const ODataRow& r) -> Status {
    Pending p;
    if (r.deleted()) {
      const ODataValue* id = r.Find("id");
      if (id == nullptr || id->kind != ODataValue::Kind::kString || id->text.empty()) {
        return Status::Error("a $deletedEntity row without an id");
      }
      p.deleted = true;
      p.key = keep(id->text);
      rows.push_back(p);
      return Status::Ok();
    }
    const size_t base = cells.size();
    cells.resize(base + ncols);
    std::optional<int64_t> version;
    for (const auto& f : r) {
      if (f.name == "versionnumber") {
        if (f.value.kind == ODataValue::Kind::kNumber) version = IntOf(f.value.text);
        continue;
      }
      if (f.name == "@odata.etag") {
        if (!version && f.value.kind == ODataValue::Kind::kString) {
          version = VersionOfEtag(f.value.text);
        }
        continue;
      }
      auto it = index.find(f.name);
      if (it == index.end() || f.value.kind == ODataValue::Kind::kNull) continue;
      cells[base + it->second] = keep(f.value.text);
    }
    const Cell key = cells[base + schema.key];
    if (key.null) return Status::Error("a row without its " + schema.columns[schema.key].name);
    if (!version) {
      return Status::Error("row " + std::string(view(key)) +
                           " has neither a versionnumber nor an @odata.etag with one");
    }
    p.version = *version;
    p.key = key;
    if (modifiedon >= 0 && !cells[base + modifiedon].null) {
      if (auto t = ParseDateTime(view(cells[base + modifiedon])); t.ok()) p.changed_at = *t;
    }
    // A delta does not say create or update: a row never modified since it
    // was created is counted as created.
    p.created = initial || (createdon >= 0 && modifiedon >= 0 && !cells[base + createdon].null &&
                            view(cells[base + createdon]) == view(cells[base + modifiedon]));
    rows.push_back(p);
    return Status::Ok();
  };
  reader.restart_page = [&] {
    rows.clear();
    cells.clear();
    arena.clear();
  };
  reader.page_done = [&](const dataverse::ODataPageEnd&) -> Status {
    std::vector<Value> values(ncols);
    size_t next = 0;  // the next row's first cell
    for (const Pending& p : rows) {
      RowView v;
      v.deleted = p.deleted;
      v.created = p.created;
      v.changed_at = p.changed_at;
      v.key = Value{Value::Kind::kText, 0, 0, view(p.key)};
      if (p.deleted) {
        // Dataverse sends no version with a delete: one more than any seen
        // before it, so it is newer than every earlier change of the row.
        v.version = ++max_version;
      } else {
        v.version = p.version;
        max_version = std::max(max_version, p.version);
        for (size_t i = 0; i < ncols; ++i) {
          const Cell& c = cells[next + i];
          values[i] = c.null ? Value{} : Value{Value::Kind::kText, 0, 0, view(c)};
        }
        next += ncols;
        v.values = values;
      }
      if (Status s = row(v); !s.ok()) return s;
    }
    delivered += rows.size();
    rows.clear();
    cells.clear();
    arena.clear();
    return Status::Ok();
  };
  reader.enough = [&] { return limit > 0 && delivered >= limit; };
  auto end = client_->GetPages(target, /*track_changes=*/true, reader);
  if (!end) return end.status();
  return end;
}

Result<Cursor> DataverseSource::ReadAll(const TableSchema& schema, const RowCallback& row) {
  auto table = Known(schema);
  if (!table) return table.status();
  int64_t max_version = 0;
  std::string select = "$select=";
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    select += (i > 0 ? "," : "") + WireName(schema.columns[i]);
  }
  if (table->has_versionnumber) select += ",versionnumber";
  auto end = Read(schema, table->entity_set + "?" + select, 0, max_version,
                  /*initial=*/true, row);
  if (!end) return Plain(end.status());
  if (end->delta_link.empty()) {
    return Status::Error("reading " + table->entity_set +
                         ": Dataverse answered the change-tracking read without a delta link");
  }
  return MakeCursor({max_version, ToEpochSeconds(clock_.Now()), end->delta_link});
}

Result<Cursor> DataverseSource::ReadChanges(const TableSchema& schema, const Cursor& after,
                                            size_t limit, const RowCallback& row) {
  auto table = Known(schema);
  if (!table) return table.status();
  auto parts = ParseCursor(after);
  if (!parts) {
    return Status::Break("source_replaced", "the committed cursor of " + schema.name +
                                                " is not a Dataverse delta link");
  }
  int64_t max_version = parts->max_version;
  auto end = Read(schema, parts->link, std::max<size_t>(limit, 1), max_version,
                  /*initial=*/false, row);
  if (!end) {
    if (end.status().reason() == dataverse::kExpiredVersionStamp) {
      return Status::Break(
          "delta_token_expired",
          "Dataverse no longer has the changes of " + schema.name +
              " after the stored delta link (its change tracking keeps them 90 days by "
              "default): " +
              end.status().message());
    }
    return Plain(end.status());
  }
  const double now = ToEpochSeconds(clock_.Now());
  const std::string& link = !end->next_link.empty() ? end->next_link : end->delta_link;
  // Keeping the stored link is right only when it is itself a delta link: a
  // next page's link (a round stopped at its limit) is replaced by the delta
  // link its last page ends with, or the table would re-read it for a day.
  if (end->rows == 0 && end->next_link.empty() && IsDeltaLink(parts->link) &&
      now - parts->issued < std::chrono::duration<double>(kRenewCursor).count()) {
    return after;  // nothing new: no state write
  }
  if (link.empty()) {
    return Status::Error("reading the changes of " + schema.name +
                         ": Dataverse answered without a delta link");
  }
  return MakeCursor({max_version, now, link});
}

Result<bool> DataverseSource::ChangesWaiting(const TableSchema& schema, const Cursor& after) {
  auto table = Known(schema);
  if (!table) return table.status();
  auto parts = ParseCursor(after);
  if (!parts) return Status::Error("not a Dataverse cursor");
  int64_t max_version = parts->max_version;
  size_t seen = 0;
  auto end = Read(schema, parts->link, 1, max_version, false, [&](const RowView&) {
    ++seen;
    return Status::Ok();
  });
  if (!end) return Plain(end.status());
  return seen > 0;
}

Result<bool> DataverseSource::MayHaveKeyTwins(const TableSchema&) { return false; }

Result<int64_t> DataverseSource::CountKeys(const TableSchema&, std::span<const StoredValue>) {
  // The engine asks for the other case forms of a GUID key: in Dataverse
  // they are the same uniqueidentifier, never another row.
  return int64_t{0};
}

Result<Cursor> DataverseSource::Head() {
  return Status::Error("a Dataverse environment has no change clock outside its tables");
}

Result<int64_t> DataverseSource::SchemaVersion() {
  const TimePoint now = clock_.Now();
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (shared_->tables.empty() || now - shared_->checked < kSchemaCheck) return shared_->version;
    shared_->checked = now;  // this connection checks; the others go on
    for (const auto& [name, table] : shared_->tables) names.push_back(name);
  }
  for (const auto& name : names) {
    // A table that cannot be described now (throttled, deleted) is checked
    // again next time; its own rounds report what is wrong with it.
    auto fresh = Fetch(name);
    if (!fresh) continue;
    std::lock_guard<std::mutex> lock(shared_->mu);
    Table& known = shared_->tables[name];
    if (fresh->table.signature != known.signature) {
      known = fresh->table;
      ++shared_->version;
    }
  }
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->version;
}

Status DataverseSource::LogChangeOfEveryRow(const TableSchema& table) {
  return Status::Error("table " + table.name +
                       ": a Dataverse source cannot log a change of every row");
}

Status DataverseSource::CheckChain(const std::string& table, const std::string&,
                                   const Cursor& committed) {
  auto parts = ParseCursor(committed);
  if (!parts) {
    return Status::Break("source_replaced",
                         "the committed cursor of " + table +
                             " was written by another source type, not by this Dataverse source");
  }
  if (!parts->link.starts_with(client_->api_base())) {
    return Status::Break("source_replaced", "the committed cursor of " + table +
                                                " is a delta link of another environment; this "
                                                "profile now reads " +
                                                client_->api_base());
  }
  return Status::Ok();
}

Secret DataverseWebhookKey(const ProfileConfig& profile) {
  if (profile.source_type != "dataverse" || !profile.source.IsMap() ||
      !profile.source["webhook_key"]) {
    return {};
  }
  Problems problems(profile.name);  // reported when the config was loaded
  return Secret::FromYaml(profile.source["webhook_key"], profile.base_dir, problems, "webhook_key");
}

// The `dataverse` source type (source_registry.cc).
SourceOpener MakeDataverseSource(const YAML::Node& spec, const BlockContext& ctx) {
  std::vector<std::string> keys = dataverse::ConnectionKeys();
  keys.push_back("webhook_key");
  if (!ctx.CheckKeys(spec, keys)) return {};
  auto settings = dataverse::ReadConnection(spec, ctx);
  if (spec["webhook_key"]) {
    (void)Secret::FromYaml(spec["webhook_key"], ctx.base_dir, ctx.problems, "webhook_key");
  }
  if (!settings) return {};
  return [settings = std::move(*settings)]() -> Result<std::unique_ptr<Source>> {
    return std::unique_ptr<Source>(
        std::make_unique<DataverseSource>(settings, SystemClock::Instance()));
  };
}

}  // namespace linkwatch::sync
