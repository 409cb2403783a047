// The `lake` destination: a folder laid out as lake-format.md, readable by
// the consumers of an Azure Synapse Link lake (CSV partitions + model.json),
// and never caught half-written by a reader:
//   * in place, every partition is rewritten to a hidden temporary file and
//     renamed into place, so a reader sees the old or the new file; within a
//     batch, a partition that gains a record is replaced before the one the
//     record leaves (a reader may see a moved record twice, never miss it),
//     and a partition that becomes empty stays as an empty file, so a file
//     model.json lists is never missing;
//   * append only, each batch is appended with one write and fsynced; the
//     marker returned by Commit holds every partition's committed length,
//     and reopening with it cuts the files back, so a replayed batch is
//     written exactly once;
//   * model.json is replaced atomically whenever a table, its columns, its
//     partitions or its initial-sync state change; partition locations are
//     absolute file: URIs (lake_location.h);
//   * a source column added with a DEFAULT reaches existing records: in
//     place, partitions with records that end before it are rewritten when
//     the table is opened; append only, the writer asks for every row again
//     (TableWriter::NeedsEveryRowAgain).
// The files of a table are the truth: reopening scans `<table>/*.csv` (not
// model.json) to rebuild the Id index, so a crash between a partition rename
// and the model.json update loses nothing.
//
// LakeDestination is thread-safe (one mutex over model.json); each table's
// writer is used by one thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "agent/sync/destination.h"

namespace linkwatch::sync {

class LakeDestination final : public Destination {
 public:
  // Opens (creating) the lake folder. An existing model.json that cannot be
  // read is an error: linkwatch does not overwrite what it cannot read.
  static Result<std::unique_ptr<LakeDestination>> Open(const std::string& path);
  ~LakeDestination() override;

  Result<std::unique_ptr<TableWriter>> OpenTable(const TableSchema& schema,
                                                 const TableOptions& options,
                                                 const std::string& marker) override;

  const std::string& path() const { return path_; }
  // The lake folder's absolute, normal path: partition locations in
  // model.json are `file:` URIs under it (lake_location.h).
  const std::string& root() const { return root_; }

  // Test seam: called after an in-place batch renames a partition file into
  // place (table, partition, and whether it was a first step that only added
  // the records moving in). Set before tables are opened; not synchronised.
  std::function<void(const std::string&, const std::string&, bool)> on_partition_replaced;

  // How long a moved record's old copy stays after its new copy became
  // visible. A reader lists model.json and then reads the partitions one
  // after another; no order of renames alone protects it when it reads the
  // gaining partition before the batch and the losing one after it (the
  // record moved "backwards" relative to its reading order). With the grace,
  // a reader that reads a table's partitions within this time of each other
  // never misses a moved record. Only batches that move records between
  // partitions wait (createdon changed), never plain updates. Tests set 0.
  std::chrono::milliseconds move_grace{1000};

  // The entity of one table in model.json.
  struct Entity {
    std::string name;
    nlohmann::json attributes = nlohmann::json::array();  // [{name, dataType, maxLength}]
    std::vector<std::string> partitions;                  // "2024", "2024-05"
    // Where each partition is, relative to the lake (model.json has it as an
    // absolute file: URI); empty: "<name>/<partition>.csv".
    std::vector<std::string> locations;
    bool append_only = false;
    Partitioning partitioning = Partitioning::kYear;
    std::string initial_sync_state = "NotStarted";  // InProgress, Completed
    std::string initial_sync_completed;             // ISO time
  };
  // Replaces (or adds) an entity and rewrites model.json.
  Status PutEntity(const Entity& entity);
  // The entity as model.json has it now, if any.
  std::optional<Entity> GetEntity(const std::string& name);

 private:
  explicit LakeDestination(std::string path);
  Status WriteModel();  // mu_ held

  std::string path_;
  std::string root_;
  int lock_fd_ = -1;  // flock on <lake>/.linkwatch.lock while open
  std::mutex mu_;
  std::map<std::string, Entity> entities_;
  std::map<std::string, nlohmann::json> raw_;  // as read from model.json
  std::set<std::string> managed_;              // entities written by this process
  // Entities of model.json that linkwatch does not manage, kept as they are.
  std::vector<nlohmann::json> foreign_;
};

}  // namespace linkwatch::sync
