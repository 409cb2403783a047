#include "agent/sync/destinations/lake_verify.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include "agent/core/crypto.h"
#include "agent/sync/destinations/csv_reader.h"
#include "agent/sync/source.h"
#include "agent/sync/sources/sqlite_source.h"

namespace linkwatch::sync {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kSnapshotSuffix = "_partitioned";
// Folders of the lake that hold CSV files which are not partitions.
constexpr std::string_view kMetadataFolders[] = {"Microsoft.Athena.TrickleFeedService",
                                                 "OptionsetMetadata"};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "'";
  out += s.substr(0, kMax);
  if (s.size() > kMax) out += "...";
  return out + "'";
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || p != end) return std::nullopt;
  return v;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A partition's location: a path relative to the lake folder, an absolute
// path, or a file: URL. Other URLs (the service's https://...dfs...) name no
// file a local reader can open.
Result<fs::path> ResolveLocation(const fs::path& dir, const std::string& location) {
  if (location.empty()) return Status::Error("empty location");
  std::string_view loc = location;
  if (loc.size() >= 5 && EqualsIgnoreCase(loc.substr(0, 5), "file:")) {
    loc.remove_prefix(5);
    if (loc.starts_with("//")) {
      loc.remove_prefix(2);
      const size_t slash = loc.find('/');
      const std::string_view host = loc.substr(0, slash);
      if (!host.empty() && !EqualsIgnoreCase(host, "localhost")) {
        return Status::Error("file URL " + Quoted(location) + " names another host");
      }
      if (slash == std::string_view::npos) return Status::Error("file URL without a path");
      loc.remove_prefix(slash);
    }
    if (!loc.starts_with("/"))
      return Status::Error("file URL " + Quoted(location) + " not absolute");
    return fs::path(PercentDecode(loc)).lexically_normal();
  }
  if (loc.find("://") != std::string_view::npos) {
    return Status::Error(Quoted(location) + " is neither a path nor a file URL");
  }
  const fs::path p(location);
  return (p.is_absolute() ? p : dir / p).lexically_normal();
}

// The same file whatever the spelling (symbolic links, "..").
std::string Canonical(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal().string() : c.string();
}

std::string ReadText(const fs::path& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot be opened";
    return {};
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) error = "cannot be read";
  return out.str();
}

struct Entity {
  std::string name;
  std::optional<bool> append_only;  // the annotation, when present
  std::vector<std::string> attributes;
  std::vector<std::pair<std::string, std::string>> partitions;  // name, location
};

// One row of an append-only table, for finding repeated (Id, versionnumber).
struct RowKey {
  const std::string* id;  // the key in TableReport::state: stable, and equal Ids share it
  int64_t version;
  int file;
  int64_t line;
};

class Verifier {
 public:
  Verifier(const fs::path& dir, const LakeVerifyOptions& options, LakeReport& report)
      : dir_(dir), options_(options), report_(report) {}

  void Run() {
    std::vector<Entity> entities;
    if (!ReadModel(entities)) return;
    std::map<std::string, bool> table_modes;
    for (const auto& e : entities) {
      if (!e.name.ends_with(kSnapshotSuffix)) table_modes[e.name] = e.append_only.value_or(false);
    }
    for (const auto& e : entities) {
      TableReport t;
      t.name = e.name;
      t.attributes = e.attributes;
      t.snapshot = e.name.ends_with(kSnapshotSuffix) && e.name.size() > kSnapshotSuffix.size();
      bool mode = e.append_only.value_or(false);
      if (t.snapshot && !e.append_only) {
        auto it = table_modes.find(e.name.substr(0, e.name.size() - kSnapshotSuffix.size()));
        if (it != table_modes.end()) mode = it->second;
      }
      t.append_only = mode;
      ReadTable(e, t);
      report_.tables.push_back(std::move(t));
    }
    FindUnlistedPartitions();
  }

 private:
  std::string Display(const fs::path& p) const {
    const fs::path rel = p.lexically_relative(dir_);
    if (!rel.empty() && *rel.begin() != "..") return rel.generic_string();
    return p.string();
  }

  void LakeProblem(std::string message) {
    ++report_.problem_count;
    report_.problems.push_back(std::move(message));
  }

  // A table's problem; messages of a `kind` beyond the limit are only counted.
  void TableProblem(TableReport& t, const char* kind, std::string message) {
    ++t.problems;
    ++report_.problem_count;
    if (kind != nullptr && ++kind_counts_[kind] > options_.max_messages_per_kind) return;
    report_.problems.push_back(std::move(message));
  }

  void FlushKinds(const TableReport& t) {
    for (const auto& [kind, count] : kind_counts_) {
      if (count > options_.max_messages_per_kind) {
        report_.problems.push_back(t.name + ": ... and " +
                                   std::to_string(count - options_.max_messages_per_kind) +
                                   " more " + kind);
      }
    }
    kind_counts_.clear();
  }

  bool ReadModel(std::vector<Entity>& entities) {
    const fs::path path = dir_ / "model.json";
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      LakeProblem("model.json: missing (a lake lists its tables and partitions in model.json)");
      return false;
    }
    std::string error;
    const std::string text = ReadText(path, error);
    if (!error.empty()) {
      LakeProblem("model.json: " + error);
      return false;
    }
    json model;
    try {
      model = json::parse(text);
    } catch (const json::exception& e) {
      // "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
      std::string what = e.what();
      if (auto at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
      LakeProblem("model.json: not valid JSON: " + what);
      return false;
    }
    if (!model.is_object() || !model.contains("entities") || !model["entities"].is_array()) {
      LakeProblem("model.json: no \"entities\" array");
      return false;
    }
    std::set<std::string> names;
    const json& list = model["entities"];
    for (size_t i = 0; i < list.size(); ++i) {
      const json& e = list[i];
      const std::string where = "model.json: entities[" + std::to_string(i) + "]";
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string() ||
          e["name"].get<std::string>().empty()) {
        LakeProblem(where + ": no \"name\"");
        continue;
      }
      Entity entity;
      entity.name = e["name"].get<std::string>();
      const std::string ewhere = "model.json: entity " + entity.name;
      if (!names.insert(entity.name).second) {
        LakeProblem(ewhere + ": listed twice");
        continue;
      }
      if (e.contains("annotations") && e["annotations"].is_array()) {
        for (const json& a : e["annotations"]) {
          if (!a.is_object() || a.value("name", json()) != "linkwatch:AppendOnly") continue;
          const json v = a.value("value", json());
          entity.append_only = (v.is_string() && EqualsIgnoreCase(v.get<std::string>(), "true")) ||
                               (v.is_boolean() && v.get<bool>());
        }
      }
      if (!e.contains("attributes") || !e["attributes"].is_array()) {
        LakeProblem(ewhere + ": no \"attributes\" array");
        continue;
      }
      bool attributes_ok = true;
      for (const json& a : e["attributes"]) {
        if (!a.is_object() || !a.contains("name") || !a["name"].is_string()) {
          LakeProblem(ewhere + ": an attribute without a \"name\"");
          attributes_ok = false;
          break;
        }
        entity.attributes.push_back(a["name"].get<std::string>());
      }
      if (!attributes_ok) continue;
      if (e.contains("partitions")) {
        if (!e["partitions"].is_array()) {
          LakeProblem(ewhere + ": \"partitions\" is not an array");
          continue;
        }
        for (const json& p : e["partitions"]) {
          if (!p.is_object() || !p.contains("location") || !p["location"].is_string()) {
            LakeProblem(ewhere + ": a partition without a \"location\"");
            continue;
          }
          std::string name = p.contains("name") && p["name"].is_string()
                                 ? p["name"].get<std::string>()
                                 : std::string();
          entity.partitions.emplace_back(std::move(name), p["location"].get<std::string>());
        }
      }
      entities.push_back(std::move(entity));
    }
    return true;
  }

  int Column(const Entity& e, std::string_view name) const {
    for (size_t i = 0; i < e.attributes.size(); ++i) {
      if (EqualsIgnoreCase(e.attributes[i], name)) return static_cast<int>(i);
    }
    return -1;
  }

  void ReadTable(const Entity& e, TableReport& t) {
    const std::string ewhere = "model.json: entity " + e.name;
    id_col_ = Column(e, "Id");
    version_col_ = Column(e, "versionnumber");
    delete_col_ = Column(e, "IsDelete");
    if (id_col_ < 0) {
      TableProblem(t, nullptr, ewhere + ": no Id attribute; its rows cannot be checked");
    } else if (id_col_ != 0) {
      TableProblem(t, nullptr,
                   ewhere + ": Id is attribute " + std::to_string(id_col_ + 1) + ", not the first");
    }
    if (version_col_ < 0) TableProblem(t, nullptr, ewhere + ": no versionnumber attribute");
    if (delete_col_ < 0) TableProblem(t, nullptr, ewhere + ": no IsDelete attribute");
    row_keys_.clear();
    ReserveState(e, t);

    for (const auto& [pname, location] : e.partitions) {
      auto resolved = ResolveLocation(dir_, location);
      if (!resolved) {
        TableProblem(t, nullptr,
                     ewhere + ": partition " + Quoted(pname) + ": " + resolved.message());
        continue;
      }
      const std::string display = Display(*resolved);
      const std::string canonical = Canonical(*resolved);
      auto [it, fresh] = listed_.emplace(canonical, e.name);
      if (!fresh) {
        TableProblem(t, nullptr,
                     ewhere + ": partition " + display + " is already listed by " +
                         (it->second == e.name ? "it" : "entity " + it->second));
        continue;
      }
      std::error_code ec;
      if (!fs::is_regular_file(*resolved, ec)) {
        TableProblem(t, nullptr,
                     display + ": missing (listed as a partition of " + e.name + " in model.json)");
        continue;
      }
      const int file = static_cast<int>(t.partitions.size());
      t.partitions.push_back(display);
      auto reader = CsvReader::OpenFile(resolved->string(), display);
      if (!reader) {
        TableProblem(t, nullptr, reader.message());
        continue;
      }
      ReadPartition(**reader, file, t);
    }
    Finish(t);
    FlushKinds(t);
  }

  // Sizes the state for the rows the partitions may hold, guessing at least
  // 100 bytes a row (the Id and the two Sink dates alone take 80): rehashing
  // a growing map of a million Ids costs more than reading their CSV.
  void ReserveState(const Entity& e, TableReport& t) {
    uintmax_t bytes = 0;
    for (const auto& [pname, location] : e.partitions) {
      auto resolved = ResolveLocation(dir_, location);
      std::error_code ec;
      const uintmax_t size = resolved ? fs::file_size(*resolved, ec) : 0;
      if (!ec) bytes += size;
    }
    t.state.reserve(static_cast<size_t>(std::min<uintmax_t>(bytes / 100, uintmax_t{1} << 26)));
  }

  void ReadPartition(CsvReader& reader, int file, TableReport& t) {
    while (true) {
      auto more = reader.Next();
      if (!more) {
        TableProblem(t, nullptr, more.message() + " (the rest of the file is not read)");
        break;
      }
      if (!*more) break;
      ++t.rows;
      Row(reader, file, t);
    }
    if (reader.crlf_records() > 0 && reader.lf_records() > 0) {
      TableProblem(t, nullptr,
                   reader.name() + ": mixes CRLF (" + std::to_string(reader.crlf_records()) +
                       " records) and LF (" + std::to_string(reader.lf_records()) + ") line ends");
    }
    if (reader.last_record_unterminated()) {
      TableProblem(t, nullptr,
                   reader.name() + ":" + std::to_string(reader.line()) +
                       ": the last record has no line break (a cut-off write?)");
    }
  }

  void Row(const CsvReader& reader, int file, TableReport& t) {
    const auto& f = reader.fields();
    // Built only for a message: most rows have none.
    auto here = [&] { return reader.name() + ":" + std::to_string(reader.line()) + ": "; };
    auto field = [&](int i) -> std::string_view {
      return i >= 0 && static_cast<size_t>(i) < f.size() ? f[i] : std::string_view();
    };
    if (f.size() > t.attributes.size()) {
      TableProblem(t, "rows longer than the attributes",
                   here() + "row has " + std::to_string(f.size()) + " fields, model.json lists " +
                       std::to_string(t.attributes.size()) + " attributes");
    }
    if (id_col_ < 0) return;
    const std::string_view id = field(id_col_);
    if (id.empty()) {
      TableProblem(t, "rows without an Id", here() + "row without an Id");
      return;
    }
    int64_t version = 0;
    if (version_col_ >= 0) {
      auto v = ParseInt(field(version_col_));
      if (!v) {
        TableProblem(t, "bad versionnumbers",
                     here() + "Id " + Quoted(id) + ": versionnumber " +
                         Quoted(field(version_col_)) + " is not an integer");
        return;
      }
      version = *v;
    }
    bool deleted = false;
    if (delete_col_ >= 0) {
      const std::string_view d = field(delete_col_);
      if (d == "True") {
        deleted = true;
      } else if (!d.empty() && d != "False") {
        TableProblem(t, "bad IsDelete values",
                     here() + "Id " + Quoted(id) + ": IsDelete is " + Quoted(d) +
                         ", expected True or empty");
      }
    }
    if (deleted && !t.append_only) {
      ++t.deleted;
      TableProblem(t, "delete rows in an in-place table",
                   here() + "Id " + Quoted(id) + ": a delete row in an in-place table");
    }

    auto [it, fresh] = t.state.try_emplace(std::string(id));
    LakeRecord& r = it->second;
    if (t.append_only) row_keys_.push_back({&it->first, version, file, reader.line()});
    if (!fresh) {
      if (!t.append_only) {
        ++t.duplicates;
        TableProblem(t, "duplicate Ids",
                     here() + "duplicate Id " + Quoted(id) + " (also at " + t.Location(r) + ")");
      }
      // The newest version wins; on a tie (a duplicate) the first row stays.
      if (version <= r.version) return;
    }
    r.version = version;
    r.deleted = deleted;
    r.file = file;
    r.line = reader.line();
    if (options_.keep_fields) {
      r.fields.assign(t.attributes.size(), std::string());
      for (size_t i = 0; i < f.size() && i < r.fields.size(); ++i) r.fields[i] = f[i];
    }
  }

  void Finish(TableReport& t) {
    if (t.append_only) {
      // Rows with the same (Id, versionnumber): every one after the first.
      std::sort(row_keys_.begin(), row_keys_.end(), [](const RowKey& a, const RowKey& b) {
        if (a.id != b.id) return std::less<const std::string*>()(a.id, b.id);
        return std::tie(a.version, a.file, a.line) < std::tie(b.version, b.file, b.line);
      });
      std::vector<std::pair<const RowKey*, const RowKey*>> repeats;  // (repeat, first)
      for (size_t i = 1, first = 0; i < row_keys_.size(); ++i) {
        if (row_keys_[i].id == row_keys_[first].id &&
            row_keys_[i].version == row_keys_[first].version) {
          repeats.emplace_back(&row_keys_[i], &row_keys_[first]);
        } else {
          first = i;
        }
      }
      std::sort(repeats.begin(), repeats.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first->file, a.first->line) < std::tie(b.first->file, b.first->line);
      });
      for (const auto& [repeat, first] : repeats) {
        ++t.duplicates;
        TableProblem(t, "duplicate rows",
                     t.partitions[repeat->file] + ":" + std::to_string(repeat->line) +
                         ": duplicate row: Id " + Quoted(*repeat->id) + " versionnumber " +
                         std::to_string(repeat->version) + " again (first at " +
                         t.partitions[first->file] + ":" + std::to_string(first->line) + ")");
      }
      row_keys_.clear();
      for (auto it = t.state.begin(); it != t.state.end();) {
        if (it->second.deleted) {
          ++t.deleted;
          it = t.state.erase(it);
        } else {
          ++it;
        }
      }
    }
    t.live = static_cast<int64_t>(t.state.size());
  }

  // CSV files in a table folder (not in Snapshot/) that model.json does not list.
  void FindUnlistedPartitions() {
    std::vector<std::string> unlisted;
    std::error_code ec;
    for (fs::directory_iterator d(dir_, ec), end; !ec && d != end; d.increment(ec)) {
      std::error_code ec2;
      if (!d->is_directory(ec2)) continue;
      const std::string folder = d->path().filename().string();
      if (std::find(std::begin(kMetadataFolders), std::end(kMetadataFolders), folder) !=
          std::end(kMetadataFolders)) {
        continue;
      }
      for (fs::directory_iterator f(d->path(), ec2), fend; !ec2 && f != fend; f.increment(ec2)) {
        std::error_code ec3;
        if (!f->is_regular_file(ec3) || f->path().extension() != ".csv") continue;
        if (listed_.count(Canonical(f->path())) == 0) unlisted.push_back(Display(f->path()));
      }
    }
    std::sort(unlisted.begin(), unlisted.end());
    for (const auto& u : unlisted) {
      LakeProblem(u + ": a partition file that model.json does not list");
    }
  }

  const fs::path dir_;
  const LakeVerifyOptions& options_;
  LakeReport& report_;
  std::map<std::string, std::string> listed_;  // canonical path -> entity
  std::map<std::string, size_t> kind_counts_;
  std::vector<RowKey> row_keys_;
  int id_col_ = -1;
  int version_col_ = -1;
  int delete_col_ = -1;
};

std::string RenderKey(const Value& v, ValueType type) {
  switch (v.kind) {
    case Value::Kind::kInt:
      return std::to_string(v.i);
    case Value::Kind::kReal: {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.d);
      return ec == std::errc() ? std::string(buf, end) : std::string();
    }
    case Value::Kind::kText: {
      // lake-format.md: a key declared as a GUID type in lower case; any
      // other key exactly as the source holds it.
      std::string s(v.text);
      if (type == ValueType::kGuid) {
        for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return s;
    }
    case Value::Kind::kBlob:
      return Base64Encode(v.text);  // lake-format.md: BLOB as base64
    case Value::Kind::kNull:
      break;
  }
  return {};
}

void CompareTable(Source& source, TableReport& t, LakeReport& report, size_t max_messages) {
  std::map<std::string, size_t> counts;
  auto problem = [&](const char* kind, std::string message) {
    ++t.problems;
    ++report.problem_count;
    if (++counts[kind] <= max_messages) report.problems.push_back(std::move(message));
  };
  auto schema = source.Describe(t.name);
  if (!schema) {
    problem("source", t.name + ": cannot be compared with the source: " + schema.message());
    return;
  }
  for (auto& [id, r] : t.state) r.in_source = false;
  const ValueType key_type = schema->columns[schema->key].type;
  auto read = source.ReadAll(*schema, [&](const RowView& row) {
    const std::string id = RenderKey(row.key, key_type);
    auto it = t.state.find(id);
    if (it == t.state.end()) {
      ++t.source.missing_in_lake;
      problem("Ids missing in the lake", t.name + ": Id " + Quoted(id) + " (source version " +
                                             std::to_string(row.version) +
                                             ") is in the source but not live in the lake");
      return Status::Ok();
    }
    LakeRecord& r = it->second;
    r.in_source = true;
    if (r.version != row.version) {
      ++t.source.version_differs;
      problem("version differences", t.Location(r) + ": Id " + Quoted(id) + " has versionnumber " +
                                         std::to_string(r.version) + ", the source version " +
                                         std::to_string(row.version));
    }
    return Status::Ok();
  });
  if (!read) {
    problem("source", t.name + ": reading the source failed: " + read.message());
    return;
  }
  std::vector<const std::pair<const std::string, LakeRecord>*> extra;
  for (const auto& entry : t.state) {
    if (!entry.second.in_source) extra.push_back(&entry);
  }
  std::sort(extra.begin(), extra.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* e : extra) {
    ++t.source.extra_in_lake;
    problem("Ids extra in the lake", t.Location(e->second) + ": Id " + Quoted(e->first) +
                                         " is live in the lake but not in the source");
  }
  t.source.compared = true;
  for (const auto& [kind, count] : counts) {
    if (count > max_messages) {
      report.problems.push_back(t.name + ": ... and " + std::to_string(count - max_messages) +
                                " more " + kind);
    }
  }
}

}  // namespace

std::string TableReport::Location(const LakeRecord& r) const {
  const std::string file =
      r.file >= 0 && static_cast<size_t>(r.file) < partitions.size() ? partitions[r.file] : name;
  return file + ":" + std::to_string(r.line);
}

const TableReport* LakeReport::Find(const std::string& table) const {
  for (const auto& t : tables) {
    if (t.name == table) return &t;
  }
  return nullptr;
}

Result<LakeReport> VerifyLake(const std::string& dir, const LakeVerifyOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::Error(dir + " is not a folder");
  std::unique_ptr<SqliteSource> source;
  if (!options.source_path.empty()) {
    if (!fs::is_regular_file(options.source_path, ec)) {
      return Status::Error("source " + options.source_path + " is not a file");
    }
    auto opened = SqliteSource::Open(options.source_path);
    if (!opened) return opened.status();
    source = std::move(opened).value();
  }
  LakeReport report;
  report.path = dir;
  fs::path root = fs::absolute(dir, ec).lexically_normal();
  if (!root.has_filename()) root = root.parent_path();  // "lake/"
  Verifier(root, options, report).Run();
  if (source) CompareWithSource(*source, report, options.max_messages_per_kind);
  return report;
}

void CompareWithSource(Source& source, LakeReport& report, size_t max_messages_per_kind) {
  for (auto& t : report.tables) {
    if (!t.snapshot) CompareTable(source, t, report, max_messages_per_kind);
  }
}

std::string LakeReportJson(const LakeReport& report) {
  ordered_json tables = ordered_json::array();
  for (const auto& t : report.tables) {
    ordered_json j{{"name", t.name},         {"mode", t.append_only ? "append-only" : "in-place"},
                   {"snapshot", t.snapshot}, {"rows", t.rows},
                   {"live", t.live},         {"duplicates", t.duplicates},
                   {"deleted", t.deleted},   {"partitions", t.partitions},
                   {"problems", t.problems}, {"ok", t.ok()}};
    j["source"] = t.source.compared ? ordered_json{{"missingInLake", t.source.missing_in_lake},
                                                   {"extraInLake", t.source.extra_in_lake},
                                                   {"versionDiffers", t.source.version_differs}}
                                    : ordered_json(nullptr);
    tables.push_back(std::move(j));
  }
  ordered_json out{{"path", report.path},
                   {"tables", std::move(tables)},
                   {"problems", report.problems},
                   {"problemCount", report.problem_count},
                   {"ok", report.ok()}};
  return out.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

std::string LakeReportText(const LakeReport& report) {
  size_t width = 0;
  for (const auto& t : report.tables) width = std::max(width, t.name.size());
  std::string out;
  for (const auto& t : report.tables) {
    std::string line = t.name + std::string(width - t.name.size(), ' ');
    line += t.append_only ? "  mode=append-only" : "  mode=in-place";
    if (t.snapshot) line += "  snapshot";
    line += "  rows=" + std::to_string(t.rows) + "  live=" + std::to_string(t.live) +
            "  duplicates=" + std::to_string(t.duplicates) +
            "  deleted=" + std::to_string(t.deleted);
    if (t.source.compared) {
      const auto& s = t.source;
      line += s.missing_in_lake + s.extra_in_lake + s.version_differs == 0
                  ? std::string("  source=same")
                  : "  source=differs(missing=" + std::to_string(s.missing_in_lake) +
                        " extra=" + std::to_string(s.extra_in_lake) +
                        " version=" + std::to_string(s.version_differs) + ")";
    }
    line += t.ok() ? "  ok" : "  problems=" + std::to_string(t.problems);
    out += line + "\n";
  }
  for (const auto& p : report.problems) out += p + "\n";
  out += "lake " + report.path + ": " + std::to_string(report.tables.size()) +
         (report.tables.size() == 1 ? " table, " : " tables, ") +
         (report.ok() ? std::string("consistent")
                      : std::to_string(report.problem_count) +
                            (report.problem_count == 1 ? " inconsistency" : " inconsistencies")) +
         "\n";
  return out;
}

}  // namespace linkwatch::sync
