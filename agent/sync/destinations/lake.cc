#include "agent/sync/destinations/lake.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "agent/core/files.h"
#include "agent/sync/destinations/lake_location.h"
#include "agent/sync/destinations/lake_model.h"
#include "agent/sync/destinations/lake_table_writer.h"

namespace linkwatch::sync {
namespace fs = std::filesystem;
using lake::AbsoluteLocation;
using lake::EntityJson;
using lake::kOptionsetFiles;
using lake::kOptionsetFolder;
using lake::ModelProblem;
using lake::ParseEntity;
using nlohmann::json;

Result<std::unique_ptr<LakeDestination>> LakeDestination::Open(const std::string& path) {
  std::unique_ptr<LakeDestination> lake(new LakeDestination(path));
  std::lock_guard<std::mutex> lock(lake->mu_);
  if (auto s = lake->Attach(); !s.ok()) return s;
  return lake;
}

Status LakeDestination::Attach() {
  const std::string& path = path_;
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::Error("cannot create lake folder " + path + ": " + ec.message());
  if (::access(path.c_str(), W_OK) != 0) {
    return Status::Error("lake folder " + path + " is not writable");
  }
  // One writer per lake: a second linkwatch on the same folder would write
  // every change twice.
  const std::string lock_path = path + "/" + lake::kLakeLockFile;
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("cannot open " + lock_path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::Error("lake folder " + path + " is in use by another linkwatch process");
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // the replaced folder's lock
  lock_fd_ = fd;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::Error("cannot stat lake folder " + path + ": " + std::strerror(errno));
  }
  folder_ = StampOf(st);
  ++generation_;
  entities_.clear();
  raw_.clear();
  managed_.clear();
  foreign_.clear();
  model_.reset();
  model_corrupt_.clear();
  const std::string model = path + "/model.json";
  if (::stat(model.c_str(), &st) == 0) {
    auto text = ReadFile(model);
    if (!text) return text.status();
    json j;
    model_ = StampOf(st);
    model_corrupt_ = ModelProblem(*text, nullptr, j);
    if (!model_corrupt_.empty()) return CorruptModelError();
    LoadEntities(j, false);
  }
  const std::string optionsets = path + "/" + kOptionsetFolder;
  fs::create_directories(optionsets, ec);
  if (ec) return Status::Error("cannot create " + optionsets + ": " + ec.message());
  for (const char* f : kOptionsetFiles) {
    const std::string file = optionsets + "/" + f;
    if (!fs::exists(file, ec)) {
      if (auto s = WriteFileAtomic(file, ""); !s.ok()) return s;
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
  struct stat st;
  const bool present = ::stat(path_.c_str(), &st) == 0;
  if (!present && errno != ENOENT) {
    return Status::Error("cannot stat lake folder " + path_ + ": " + std::strerror(errno));
  }
  if (!present || StampOf(st).dev != folder_.dev || StampOf(st).ino != folder_.ino) {
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
  struct stat st;
  if (::stat(model.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::Error("cannot stat " + model + ": " + std::strerror(errno));
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
  if (model_ && *model_ == StampOf(st)) {
    return model_corrupt_.empty() ? Status::Ok() : CorruptModelError();
  }
  // Changed behind linkwatch's back (or a first look): read and check it.
  auto text = ReadFile(model);
  if (!text) return text.status();
  json j;
  const std::string problem = ModelProblem(*text, &managed_, j);
  model_ = StampOf(st);
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

LakeDestination::LakeDestination(std::string path)
    : path_(std::move(path)), root_(lake::AbsoluteFolder(path_)) {}

LakeDestination::~LakeDestination() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

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
  return WriteModel();
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

Status LakeDestination::WriteModelFile() {
  json entities = json::array();
  // Entities this process writes are rendered; any other is kept exactly as
  // it was read (another writer's, or a table not opened yet).
  for (const auto& [name, e] : entities_) {
    if (managed_.count(name)) {
      entities.push_back(EntityJson(e, root_));
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
    entities.push_back(std::move(raw));
  }
  for (const auto& f : foreign_) entities.push_back(f);
  const json model = {{"name", "cdm"},
                      {"description", "linkwatch lake (Azure Synapse Link for Dataverse layout)"},
                      {"version", "1.0"},
                      {"entities", entities}};
  const std::string path = path_ + "/model.json";
  if (auto s = WriteFileAtomic(path, model.dump(2)); !s.ok()) return s;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::Error("cannot stat " + path + ": " + std::strerror(errno));
  }
  model_ = StampOf(st);
  return Status::Ok();
}

}  // namespace linkwatch::sync
