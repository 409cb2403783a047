#include "agent/sync/destinations/lake.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <string_view>

#include "agent/core/files.h"
#include "agent/sync/destinations/csv_reader.h"
#include "agent/sync/destinations/lake_format.h"
#include "agent/sync/destinations/lake_location.h"
#include "agent/sync/destinations/lake_model.h"
#include "agent/sync/destinations/lake_table_writer.h"

namespace linkwatch::sync {
using lake::AbsoluteLocation;
using lake::EntityJson;
using lake::kOptionsetFiles;
using lake::kOptionsetFolder;
using lake::ModelProblem;
using lake::ParseEntity;
using nlohmann::json;

Result<std::unique_ptr<LakeDestination>> LakeDestination::Open(const std::string& path, Env& env) {
  std::unique_ptr<LakeDestination> lake(new LakeDestination(path, env));
  std::lock_guard<std::mutex> lock(lake->mu_);
  if (auto s = lake->Attach(); !s.ok()) return s;
  return lake;
}

Status LakeDestination::Attach() {
  const std::string& path = path_;
  // Durably: partitions fsynced in a folder whose own entry was not would
  // vanish with it at a power cut.
  if (auto s = CreateDirsDurably(env_, path); !s.ok()) {
    return Status::Error("cannot create lake folder " + path + ": " + s.message());
  }
  if (!env_.IsWritable(path)) {
    return Status::Error("lake folder " + path + " is not writable");
  }
  // One writer per lake: a second linkwatch on the same folder would write
  // every change twice.
  const std::string lock_path = path + "/" + lake::kLakeLockFile;
  auto lock = env_.LockFile(lock_path);
  if (!lock) {
    if (lock.status().reason() == "locked") {
      return Status::Error("lake folder " + path + " is in use by another linkwatch process");
    }
    return lock.status();
  }
  lock_ = std::move(lock).value();  // the replaced folder's lock, if any, is released
  auto folder = env_.Stat(path);
  if (!folder) return folder.status();
  if (!*folder) return Status::Error("cannot stat lake folder " + path + ": it vanished");
  folder_ = StampOf(**folder);
  ++generation_;
  choice_rows_loaded_ = false;
  entities_.clear();
  raw_.clear();
  managed_.clear();
  foreign_.clear();
  model_.reset();
  model_corrupt_.clear();
  const std::string model = path + "/model.json";
  auto model_info = env_.Stat(model);
  if (!model_info) return model_info.status();
  if (*model_info) {
    auto text = env_.ReadFile(model);
    if (!text) return text.status();
    json j;
    model_ = StampOf(**model_info);
    model_corrupt_ = ModelProblem(*text, nullptr, j);
    if (!model_corrupt_.empty()) return CorruptModelError();
    LoadEntities(j, false);
  }
  const std::string optionsets = path + "/" + kOptionsetFolder;
  if (auto s = CreateDirsDurably(env_, optionsets); !s.ok()) return s;
  for (const char* f : kOptionsetFiles) {
    const std::string file = optionsets + "/" + f;
    auto info = env_.Stat(file);
    if (!info.ok() || !*info) {
      if (auto s = WriteFileAtomic(env_, file, ""); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

void LakeDestination::LoadEntities(const json& model, bool keep_managed) {
  foreign_.clear();
  for (const auto& e : model["entities"]) {
    if (auto entity = ParseEntity(e, root_)) {
      if (keep_managed && managed_.count(entity->name)) continue;
      raw_[entity->name] = e;
      rendered_.erase(entity->name);
      entities_[entity->name] = std::move(*entity);
    } else {
      foreign_.push_back(e);
    }
  }
}

Status LakeDestination::CorruptModelError() const {
  return Status::Error("model.json in " + path_ + " is corrupt: " + model_corrupt_ +
                       "; linkwatch will not overwrite it: fix it or delete it (linkwatch "
                       "recreates a missing one)")
      .WithReason("model_corrupt");
}

Status LakeDestination::CheckLake(uint64_t& generation) {
  std::lock_guard<std::mutex> lock(mu_);
  auto folder = env_.Stat(path_);
  if (!folder) return folder.status();
  const bool present = folder->has_value();
  if (!present || (*folder)->dev != folder_.dev || (*folder)->ino != folder_.ino) {
    // Every table's committed content is gone with the old folder: each
    // writer sees the generation move on and reports a break.
    spdlog::error(
        "lake folder {} was {} while linkwatch was writing to it; every table of it is synced "
        "again into the folder now at that path",
        path_, present ? "replaced (its device/inode changed)" : "deleted");
    if (auto s = Attach(); !s.ok()) return s;
  }
  generation = generation_;
  bool wrote = false;
  return CheckModel(wrote);
}

std::vector<DestinationNotice> LakeDestination::TakeNotices() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(notices_, {});
}

Status LakeDestination::CheckModel(bool& wrote) {
  wrote = false;
  const std::string model = path_ + "/model.json";
  auto info = env_.Stat(model);
  if (!info) return info.status();
  if (!*info) {
    model_corrupt_.clear();
    if (!model_) return Status::Ok();  // never written: a new lake, nothing to recreate yet
    const std::string message = model +
                                " was deleted; linkwatch recreated it from the tables it writes "
                                "(a reader of the lake could not find them meanwhile)";
    spdlog::warn("lake: {}", message);
    ++models_recreated_;
    notices_.push_back({"model_missing", message});
    wrote = true;
    return WriteModelFile();
  }
  if (model_ && *model_ == StampOf(**info)) {
    return model_corrupt_.empty() ? Status::Ok() : CorruptModelError();
  }
  // Changed behind linkwatch's back (or a first look): read and check it.
  auto text = env_.ReadFile(model);
  if (!text) return text.status();
  json j;
  const std::string problem = ModelProblem(*text, &managed_, j);
  model_ = StampOf(**info);
  if (!problem.empty()) {
    if (model_corrupt_ != problem) spdlog::error("lake: {} is corrupt: {}", model, problem);
    model_corrupt_ = problem;
    return CorruptModelError();
  }
  const bool was_corrupt = !model_corrupt_.empty();
  model_corrupt_.clear();
  LoadEntities(j, true);
  if (!was_corrupt) return Status::Ok();
  // Fixed by hand: made to say what the writers know (the fix may be an
  // older copy).
  spdlog::info("lake: {} is readable again; linkwatch rewrites its own entities in it", model);
  wrote = true;
  return WriteModelFile();
}

LakeDestination::LakeDestination(std::string path, Env& env)
    : env_(env), path_(std::move(path)), root_(lake::AbsoluteFolder(path_)) {}

LakeDestination::~LakeDestination() = default;  // lock_ releases the lock

Result<std::unique_ptr<TableWriter>> LakeDestination::OpenTable(const TableSchema& schema,
                                                                const TableOptions& options,
                                                                const std::string& marker) {
  if (!IsSafeFileName(schema.name)) {
    return Status::Error("table name \"" + schema.name +
                         "\" cannot be a lake folder name (no '/', '\\', leading '.')");
  }
  return OpenLakeTableWriter(*this, schema, options, marker);
}

Status LakeDestination::PutEntity(const Entity& entity) {
  std::lock_guard<std::mutex> lock(mu_);
  entities_[entity.name] = entity;
  managed_.insert(entity.name);
  rendered_.erase(entity.name);
  return WriteModel();
}

Status LakeDestination::PutChoiceRows(const std::string& table, const lake::ChoiceRows& rows) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string folder = path_ + "/" + kOptionsetFolder;
  if (!choice_rows_loaded_) {
    // Other tables' records, as the files hold them (a file that cannot be
    // read is rebuilt from the tables that put their rows since).
    choice_rows_.clear();
    for (size_t f = 0; f < std::size(kOptionsetFiles); ++f) {
      auto reader = CsvReader::OpenFile(env_, folder + "/" + kOptionsetFiles[f]);
      if (!reader) continue;
      for (;;) {
        auto more = (*reader)->Next();
        if (!more.ok()) {
          spdlog::warn("lake {}: {}; the file is written again from the synced tables", path_,
                       more.message());
          break;
        }
        if (!*more) break;
        const auto& fields = (*reader)->fields();
        if (fields.size() <= lake::kChoiceEntityField[f]) continue;
        lake::AppendCsvRecord(choice_rows_[std::string(fields[lake::kChoiceEntityField[f]])][f],
                              fields);
      }
    }
    choice_rows_loaded_ = true;
  }
  lake::ChoiceRows& mine = choice_rows_[table];
  const lake::ChoiceRows before = mine;
  mine = rows;
  for (size_t f = 0; f < std::size(kOptionsetFiles); ++f) {
    if (before[f] == rows[f]) continue;
    std::string text;
    for (const auto& [name, r] : choice_rows_) text += r[f];
    if (auto s = WriteFileAtomic(env_, folder + "/" + kOptionsetFiles[f], text); !s.ok()) {
      mine[f] = before[f];
      return s;
    }
  }
  return Status::Ok();
}

std::optional<LakeDestination::Entity> LakeDestination::GetEntity(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entities_.find(name);
  if (it == entities_.end()) return std::nullopt;
  return it->second;
}

Status LakeDestination::WriteModel() {
  // Never over a model.json that someone made unreadable since it was last
  // looked at: what else it held would be lost for good.
  bool wrote = false;
  if (auto s = CheckModel(wrote); !s.ok() || wrote) return s;
  return WriteModelFile();
}

namespace {

// `value` as nlohmann's dump(2) writes it at depth 2 of a document (an
// element of the model's "entities" array): every line after the first
// indented by 4 more (JSON text has no raw newlines inside strings).
std::string ElementText(const json& value) {
  std::string text = value.dump(2);
  std::string out = "    ";
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    out += c;
    if (c == '\n') out += "    ";
  }
  return out;
}

}  // namespace

Status LakeDestination::WriteModelFile() {
  // The same text as the model rendered whole by dump(2), put together from
  // the entities' texts (the managed ones rendered once per change).
  std::vector<std::string_view> elements;  // into rendered_ or `owned`
  std::deque<std::string> owned;
  // Entities this process writes are rendered; any other is kept exactly as
  // it was read (another writer's, or a table not opened yet).
  for (const auto& [name, e] : entities_) {
    if (managed_.count(name)) {
      auto it = rendered_.find(name);
      if (it == rendered_.end())
        it = rendered_.emplace(name, ElementText(EntityJson(e, root_))).first;
      elements.push_back(it->second);
      continue;
    }
    // Kept as read, except that an older lake's relative locations become
    // absolute URIs.
    json raw = raw_[name];
    if (raw.contains("partitions") && raw["partitions"].is_array()) {
      for (auto& p : raw["partitions"]) {
        if (p.is_object() && p.contains("location") && p["location"].is_string()) {
          p["location"] = AbsoluteLocation(root_, p["location"].get<std::string>());
        }
      }
    }
    elements.push_back(owned.emplace_back(ElementText(raw)));
  }
  for (const auto& f : foreign_) elements.push_back(owned.emplace_back(ElementText(f)));
  const json head = {{"name", "cdm"},
                     {"description", "linkwatch lake (Azure Synapse Link for Dataverse layout)"},
                     {"version", "1.0"},
                     {"entities", json::array()}};
  std::string text = head.dump(2);
  if (!elements.empty()) {
    size_t bytes = 0;
    for (const auto e : elements) bytes += e.size() + 2;
    std::string list = "[\n";
    list.reserve(bytes + 8);
    for (size_t i = 0; i < elements.size(); ++i) {
      list += elements[i];
      list += i + 1 < elements.size() ? ",\n" : "\n  ]";
    }
    const std::string empty = "\"entities\": []";
    const size_t at = text.find(empty);
    if (at == std::string::npos) return Status::Error("model.json: cannot place the entities");
    text.replace(at + empty.size() - 2, 2, list);
  }
  const std::string path = path_ + "/model.json";
  if (auto s = WriteFileAtomic(env_, path, text); !s.ok()) return s;
  auto info = env_.Stat(path);
  if (!info) return info.status();
  if (!*info) return Status::Error("cannot stat " + path + ": it vanished");
  model_ = StampOf(**info);
  return Status::Ok();
}

}  // namespace linkwatch::sync
