#include "exporters/state_collector.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "agent/state/schema.h"
#include "exporters/exposition.h"

namespace linkwatch {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using state::Cell;
using state::TableId;

// The families, in exposition order.
enum Fam {
  kLastSynced,
  kSyncState,
  kInitialSyncState,
  kSourceRecords,
  kLakeRecords,
  kProfileState,
  kAlerts,
  kFamilyCount
};

struct FamilyInfo {
  const char* name;
  const char* help;
};

constexpr std::array<FamilyInfo, kFamilyCount> kFamilies = {{
    {"linkwatch_entity_last_synced_timestamp_seconds",
     "Last successful data sync of a table (lastsynceddatatime), as a Unix timestamp."},
    {"linkwatch_entity_sync_state",
     "Sync state of a table (syncstate): 1 for its current state, named by the state label."},
    {"linkwatch_entity_initial_sync_state",
     "Initial sync state of a table (initialsyncstate): 1 for its current state, named by the "
     "state label."},
    {"linkwatch_entity_source_records", "Rows of the table in the source (crmrecordcount)."},
    {"linkwatch_entity_lake_records",
     "Rows of the table written to the destination (lakerecordcount)."},
    {"linkwatch_profile_state",
     "State of a link profile (profilestate): 1 for its current state, named by the state "
     "label."},
    {"linkwatch_alerts", "Active alerts by name, severity and state (pending, firing)."},
}};

struct Label {
  const char* name;
  std::string_view value;
};

// Column positions, looked up once.
struct Columns {
  int profile_id, profile_name, profile_state;
  int entity_name, entity_profile, sync_state, initial_sync_state, last_synced, crm_count,
      lake_count;
};

const Columns& Cols() {
  static const Columns c = [] {
    const auto& p = state::Table(TableId::kProfile);
    const auto& e = state::Table(TableId::kEntityState);
    return Columns{0,
                   p.ColumnIndex("name"),
                   p.ColumnIndex("profilestate"),
                   e.ColumnIndex("entityname"),
                   e.ColumnIndex("profile"),
                   e.ColumnIndex("syncstate"),
                   e.ColumnIndex("initialsyncstate"),
                   e.ColumnIndex("lastsynceddatatime"),
                   e.ColumnIndex("crmrecordcount"),
                   e.ColumnIndex("lakerecordcount")};
  }();
  return c;
}

const Cell* At(const state::Row& row, int index) {
  if (index < 0 || static_cast<size_t>(index) >= row.size()) return nullptr;
  return &row[index];
}

std::optional<double> Number(const state::Row& row, int index) {
  const Cell* c = At(row, index);
  if (c == nullptr || !c->is_number()) return std::nullopt;
  return c->as_double();
}

// A choice code: whole and in int32 (the snapshot read nulls anything else;
// hand-built cells get the same rule), as state::ChoiceLabel.
std::optional<int> Code(const state::Row& row, int index) {
  const Cell* c = At(row, index);
  if (c == nullptr) return std::nullopt;
  const std::optional<int64_t> code = c->as_int64();
  if (!code || *code < INT32_MIN || *code > INT32_MAX) return std::nullopt;
  return static_cast<int>(*code);
}

std::optional<std::string_view> Text(const state::Row& row, int index) {
  const Cell* c = At(row, index);
  if (c == nullptr || c->kind != Cell::Kind::kText) return std::nullopt;
  return c->text();
}

// The choice label of `code`; an unknown code is still exported, as its
// number (written into `buf`), rather than hiding the row's state.
std::string_view ChoiceLabel(const state::ChoiceSet& set, int code, char (&buf)[32]) {
  if (const std::string_view* label = set.LabelOf(code); label != nullptr) return *label;
  const int n = snprintf(buf, sizeof buf, "%d", code);
  return std::string_view(buf, static_cast<size_t>(n));
}

// Sinks receive the series of Emit. Entity series come row by row: Row()
// sets the (source, profile, entity) labels that the following RowSample /
// RowState calls share, so the text sink escapes and writes them once per
// row instead of once per series.

// Builds prometheus::MetricFamily values (the Collectable interface).
class FamilySink {
 public:
  explicit FamilySink(size_t entity_rows) {
    for (int f = 0; f < kFamilyCount; ++f) {
      families_[f].name = kFamilies[f].name;
      families_[f].help = kFamilies[f].help;
      families_[f].type = prometheus::MetricType::Gauge;
      if (f < kProfileState) families_[f].metric.reserve(entity_rows);
    }
  }
  void Row(std::string_view source, std::string_view profile, std::string_view entity) {
    row_ = {{"source", std::string(source)},
            {"profile", std::string(profile)},
            {"entity", std::string(entity)}};
  }
  void RowSample(Fam family, double value) { Add(family, row_, value); }
  void RowState(Fam family, std::string_view state) {
    auto labels = row_;
    labels.push_back({"state", std::string(state)});
    Add(family, std::move(labels), 1);
  }
  void Sample(Fam family, const std::array<Label, 3>& labels, double value) {
    std::vector<ClientMetric::Label> l;
    l.reserve(labels.size());
    for (const Label& label : labels) l.push_back({label.name, std::string(label.value)});
    Add(family, std::move(l), value);
  }
  std::vector<MetricFamily> Take() {
    return std::vector<MetricFamily>(std::make_move_iterator(families_.begin()),
                                     std::make_move_iterator(families_.end()));
  }

 private:
  void Add(Fam family, std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric& m = families_[family].metric.emplace_back();
    m.label = std::move(labels);
    m.gauge.value = value;
  }
  std::array<MetricFamily, kFamilyCount> families_;
  std::vector<ClientMetric::Label> row_;
};

// Writes the text format directly, one buffer per family.
class TextSink {
 public:
  explicit TextSink(size_t entity_rows) {
    for (int f = 0; f < kProfileState; ++f) series_[f].reserve(entity_rows * 128);
  }
  void Row(std::string_view source, std::string_view profile, std::string_view entity) {
    row_.assign("{source=\"");
    AppendEscapedLabelValue(&row_, source);
    row_.append("\",profile=\"");
    AppendEscapedLabelValue(&row_, profile);
    row_.append("\",entity=\"");
    AppendEscapedLabelValue(&row_, entity);
    row_.push_back('"');
  }
  void RowSample(Fam family, double value) {
    std::string& out = series_[family];
    out.append(kFamilies[family].name).append(row_).append("} ");
    AppendSampleValue(&out, value);
    out.push_back('\n');
  }
  void RowState(Fam family, std::string_view state) {
    std::string& out = series_[family];
    out.append(kFamilies[family].name).append(row_).append(",state=\"");
    AppendEscapedLabelValue(&out, state);
    out.append("\"} 1\n");
  }
  void Sample(Fam family, const std::array<Label, 3>& labels, double value) {
    std::string& out = series_[family];
    out.append(kFamilies[family].name).push_back('{');
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(labels[i].name).append("=\"");
      AppendEscapedLabelValue(&out, labels[i].value);
      out.push_back('"');
    }
    out.append("} ");
    AppendSampleValue(&out, value);
    out.push_back('\n');
  }
  void AppendTo(std::string* out) const {
    size_t total = out->size();
    for (const auto& s : series_) total += s.size() + 256;
    out->reserve(total);
    for (int f = 0; f < kFamilyCount; ++f) {
      const FamilyInfo& info = kFamilies[f];
      out->append("# HELP ").append(info.name).append(" ").append(info.help).append("\n");
      out->append("# TYPE ").append(info.name).append(" gauge\n");
      out->append(series_[f]);
    }
  }

 private:
  std::array<std::string, kFamilyCount> series_;
  std::string row_;
};

struct PairHash {
  size_t operator()(const std::pair<std::string_view, std::string_view>& p) const {
    const size_t a = std::hash<std::string_view>()(p.first);
    return a ^
           (std::hash<std::string_view>()(p.second) + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  }
};

}  // namespace

void StateCollector::Publish(const std::string& source,
                             std::shared_ptr<const state::Snapshot> snapshot) {
  std::shared_ptr<const state::Snapshot> old;  // released after the lock
  std::lock_guard lock(mu_);
  if (snapshot == nullptr) {
    auto it = snapshots_.find(source);
    if (it != snapshots_.end()) {
      old = std::move(it->second);
      snapshots_.erase(it);
    }
    return;
  }
  auto& slot = snapshots_[source];
  old = std::move(slot);
  slot = std::move(snapshot);
}

void StateCollector::PublishAlerts(const std::vector<Alert>& alerts) {
  std::map<AlertKey, int> counts;
  for (const Alert& a : alerts) {
    const char* state = a.state == AlertState::kPending  ? "pending"
                        : a.state == AlertState::kFiring ? "firing"
                                                         : nullptr;
    if (state == nullptr) continue;
    auto name = a.labels.find("alertname");
    auto severity = a.labels.find("severity");
    ++counts[{name == a.labels.end() ? "" : name->second,
              severity == a.labels.end() ? "" : severity->second, state}];
  }
  std::lock_guard lock(mu_);
  alert_counts_.swap(counts);
}

StateCollector::Published StateCollector::Latest() const {
  Published p;
  std::lock_guard lock(mu_);
  p.snapshots.assign(snapshots_.begin(), snapshots_.end());
  p.alert_counts = alert_counts_;
  return p;
}

size_t StateCollector::EntityRows(const Published& p) {
  size_t rows = 0;
  for (const auto& [source, snap] : p.snapshots) rows += (*snap)[TableId::kEntityState].rows.size();
  return rows;
}

template <typename Sink>
void StateCollector::Emit(const Published& published, Sink& sink) {
  const Columns& col = Cols();
  const auto& sync_choices = state::EntitySyncStateChoices();
  const auto& profile_choices = state::ProfileStateChoices();
  char buf[32];

  for (const auto& [source, snap] : published.snapshots) {
    // Profile id -> name; a profile seen twice under one name is exported once.
    std::unordered_map<std::string_view, std::string_view> profile_names;
    std::unordered_set<std::string_view> profiles_seen;
    for (const state::Row& row : (*snap)[TableId::kProfile].rows) {
      const auto id = Text(row, col.profile_id);
      const auto name = Text(row, col.profile_name);
      if (id && name) profile_names.emplace(*id, *name);
      const auto label = name ? name : id;
      const std::optional<int> st = Code(row, col.profile_state);
      if (!label || !st || !profiles_seen.insert(*label).second) continue;
      sink.Sample(kProfileState,
                  std::array<Label, 3>{{{"source", source},
                                        {"profile", *label},
                                        {"state", ChoiceLabel(profile_choices, *st, buf)}}},
                  1);
    }

    // (profile, entity) pairs already exported: the first row wins. The
    // views point into the snapshot, which outlives this loop.
    std::unordered_set<std::pair<std::string_view, std::string_view>, PairHash> entities_seen;
    entities_seen.reserve((*snap)[TableId::kEntityState].rows.size());
    for (const state::Row& row : (*snap)[TableId::kEntityState].rows) {
      const auto entity = Text(row, col.entity_name);
      if (!entity) continue;
      std::string_view profile;
      if (const auto id = Text(row, col.entity_profile)) {
        auto it = profile_names.find(*id);
        profile = it != profile_names.end() ? it->second : std::string_view(*id);
      }
      if (!entities_seen.emplace(profile, *entity).second) continue;

      sink.Row(source, profile, *entity);
      if (const auto v = Number(row, col.last_synced)) sink.RowSample(kLastSynced, *v);
      if (const auto v = Code(row, col.sync_state)) {
        sink.RowState(kSyncState, ChoiceLabel(sync_choices, *v, buf));
      }
      if (const auto v = Code(row, col.initial_sync_state)) {
        sink.RowState(kInitialSyncState, ChoiceLabel(sync_choices, *v, buf));
      }
      if (const auto v = Number(row, col.crm_count)) sink.RowSample(kSourceRecords, *v);
      if (const auto v = Number(row, col.lake_count)) sink.RowSample(kLakeRecords, *v);
    }
  }

  for (const auto& [key, count] : published.alert_counts) {
    const auto& [name, severity, state] = key;
    sink.Sample(
        kAlerts,
        std::array<Label, 3>{{{"alertname", name}, {"severity", severity}, {"state", state}}},
        count);
  }
}

std::vector<MetricFamily> StateCollector::Collect() const {
  const Published published = Latest();
  FamilySink sink(EntityRows(published));
  Emit(published, sink);
  return sink.Take();
}

void StateCollector::AppendText(std::string* out) const {
  const Published published = Latest();
  TextSink sink(EntityRows(published));
  Emit(published, sink);
  sink.AppendTo(out);
}

}  // namespace linkwatch
