#include "agent/watch/dataverse_source.h"

#include <re2/re2.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <unordered_map>

#include "agent/core/time_format.h"
#include "agent/dataverse/settings.h"
#include "agent/watch/background_source.h"
#include "agent/watch/state_source_registry.h"

namespace linkwatch::watch {
namespace {

using dataverse::ODataRow;
using dataverse::ODataValue;
using state::Cell;
using state::ColumnType;
using state::TableDef;

// A lookup column `profile` travels as `_profile_value`.
std::string WebApiName(const state::ColumnDef& column) {
  if (column.type == ColumnType::kLookup) return "_" + std::string(column.name) + "_value";
  return std::string(column.name);
}

// A value as a log line and the invalid-value memory quote it (cut like the
// SQLite reader's).
std::string Quote(const ODataValue& v) {
  constexpr size_t kMax = 200;
  if (v.text.size() > kMax) return v.text.substr(0, kMax) + "...";
  return v.text;
}

// The cell of `v` in a column of `type` (the SQLite reader's rules); sets
// `reason` and returns null when it does not fit.
Cell CellOf(const ODataValue& v, ColumnType type, state::Snapshot& snap, const char*& reason) {
  using Kind = ODataValue::Kind;
  if (v.kind == Kind::kNull) return Cell::Null();
  switch (type) {
    case ColumnType::kInt:
    case ColumnType::kBool:
    case ColumnType::kChoice: {
      if (v.kind == Kind::kJson || (v.kind == Kind::kBool && type != ColumnType::kBool)) {
        reason = "not a number";
        return Cell::Null();
      }
      auto value = state::IntegerOfText(v.text, type, reason);
      if (value) value = state::CheckChoiceRange(*value, type, reason);
      return value ? Cell::Int(*value) : Cell::Null();
    }
    case ColumnType::kDateTime: {
      auto parsed =
          v.kind == Kind::kString ? ParseDateTime(v.text) : Result<double>(Status::Error(""));
      if (!parsed.ok()) {
        reason = "not an ISO-8601 datetime";
        return Cell::Null();
      }
      return Cell::Number(*parsed);
    }
    default:
      return snap.Text(v.text);
  }
}

}  // namespace

DataverseStateSource::DataverseStateSource(std::string name, dataverse::WebApiSettings settings,
                                           const Clock& clock)
    : name_(std::move(name)),
      client_(std::make_unique<dataverse::WebApiClient>(std::move(settings), clock)) {}

DataverseStateSource::~DataverseStateSource() = default;

dataverse::WebApiSettings DataverseStateSource::WatchDefaults(dataverse::WebApiSettings s) {
  s.max_attempts = 3;
  s.backoff.cap = Millis(5000);
  s.max_throttle_wait = Millis(60000);
  s.timeout = Millis(30000);
  return s;
}

std::string DataverseStateSource::SelectOf(const TableDef& table) const {
  const auto& missing = missing_[static_cast<int>(table.id)];
  std::string select;
  for (const auto& column : table.columns) {
    if (missing.count(column.name)) continue;
    if (!select.empty()) select += ',';
    select += WebApiName(column);
  }
  return std::string(table.entity_set) + "?$select=" + select;
}

Status DataverseStateSource::ReadTable(const TableDef& table, state::Snapshot& snap) {
  // Field name -> column index, for this table's fields.
  std::unordered_map<std::string, int> columns;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    columns.emplace(WebApiName(table.columns[i]), static_cast<int>(i));
  }
  auto& rows = snap[table.id].rows;
  size_t page_rows = 0, page_invalid = 0;
  dataverse::PageReader reader;
  reader.row = [&](const ODataRow& r) {
    state::Row row(table.columns.size());
    const size_t first_invalid = snap.invalid_values.size();
    for (const auto& field : r) {
      auto it = columns.find(field.name);
      if (it == columns.end()) continue;  // annotations, columns not asked for
      const char* reason = nullptr;
      row[it->second] = CellOf(field.value, table.columns[it->second].type, snap, reason);
      if (reason != nullptr) {
        snap.invalid_values.push_back({table.id, "", std::string(table.columns[it->second].name),
                                       Quote(field.value), reason});
      }
    }
    if (row[0].kind != Cell::Kind::kText) {
      return Status::Error(std::string(table.entity_set) + " has a row without its key " +
                           std::string(table.columns[0].name));
    }
    for (size_t i = first_invalid; i < snap.invalid_values.size(); ++i) {
      snap.invalid_values[i].row_id = row[0].text();
    }
    rows.push_back(std::move(row));
    return Status::Ok();
  };
  reader.restart_page = [&] {
    rows.resize(page_rows);
    snap.invalid_values.resize(page_invalid);
  };
  reader.page_done = [&](const dataverse::ODataPageEnd&) {
    page_rows = rows.size();
    page_invalid = snap.invalid_values.size();
    return Status::Ok();
  };
  auto& missing = missing_[static_cast<int>(table.id)];
  for (;;) {
    page_rows = rows.size();
    page_invalid = snap.invalid_values.size();
    auto end = client_->GetPages(SelectOf(table), /*track_changes=*/false, reader);
    if (end.ok()) return Status::Ok();
    // An environment without a column (an older solution version): leave
    // it out, as a local file's missing column is.
    static const RE2 kNoProperty(R"(Could not find a property named '([^']+)')");
    std::string property;
    if (!RE2::PartialMatch(end.message(), kNoProperty, &property)) return end.status();
    int column = -1;
    for (size_t i = 1; i < table.columns.size(); ++i) {
      if (WebApiName(table.columns[i]) == property) column = static_cast<int>(i);
    }
    if (column < 0 || missing.count(table.columns[column].name)) return end.status();
    spdlog::warn("watch source {}: {} has no column {}; reading it without", name_,
                 table.entity_set, property);
    missing.insert(std::string(table.columns[column].name));
    rows.resize(page_rows);
    snap.invalid_values.resize(page_invalid);
  }
}

Result<std::shared_ptr<const state::Snapshot>> DataverseStateSource::Poll() {
  const int64_t before = client_->requests();
  auto snap = std::make_shared<state::Snapshot>();
  Status s = Status::Ok();
  for (const TableDef& table : state::AllTables()) {
    s = ReadTable(table, *snap);
    if (!s.ok()) break;
  }
  last_poll_requests_ = client_->requests() - before;
  if (!s.ok()) return s.WithContext("polling " + client_->api_base());
  return std::shared_ptr<const state::Snapshot>(std::move(snap));
}

// The `dataverse` watch source type (state_source_registry.cc).
std::unique_ptr<StateSource> MakeDataverseStateSource(const YAML::Node& spec,
                                                      const BlockContext& ctx) {
  if (!ctx.CheckKeys(spec, dataverse::ConnectionKeys())) return nullptr;
  auto settings = dataverse::ReadConnection(spec, ctx);
  if (!settings) return nullptr;
  // Polled on a thread of its own: the watcher's loop never waits on the
  // network.
  return std::make_unique<BackgroundSource>(
      std::make_unique<DataverseStateSource>(
          ctx.name, DataverseStateSource::WatchDefaults(std::move(*settings)),
          SystemClock::Instance()),
      SystemClock::Instance());
}

}  // namespace linkwatch::watch
