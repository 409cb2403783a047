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
//   * nothing is glued onto what someone else changed (docs/sync.md
//     "Breaks"): the marker (both modes) holds each partition's committed
//     length and zlib crc32, computed while writing. Reopening with a marker
//     checks every partition against it; each change round stats the
//     committed partitions (size, mtime, inode) and reads one again only
//     when that differs; an in-place rewrite checks the partition it reads
//     anyway. A missing, shorter or different partition is a
//     Status::Break ("partition_missing", "partition_changed"), and the
//     engine resyncs the table. A lake folder deleted or replaced (its
//     device or inode changed) is "lake_replaced" for every table;
//   * model.json is recreated when missing, and refused, never overwritten,
//     while it is corrupt (an error with reason "model_corrupt");
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
// Every file operation goes through the Env given to Open (env.h), so tests
// can fail writes or cut the power under the lake.
//
// LakeDestination is thread-safe (one mutex over model.json); each table's
// writer is used by one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/core/env.h"
#include "agent/sync/destination.h"
#include "agent/sync/destinations/lake_model.h"

namespace linkwatch::sync {

class LakeDestination final : public Destination {
 public:
  // Opens (creating) the lake folder. An existing model.json that cannot be
  // read is an error (reason "model_corrupt"): linkwatch does not overwrite
  // what it cannot read.
  // Files are written through `env` (env.h), which outlives the lake.
  static Result<std::unique_ptr<LakeDestination>> Open(const std::string& path,
                                                       Env& env = Env::Default());
  ~LakeDestination() override;

  // Run by each table's writer when it is opened and at the start of every
  // batch: a lake folder that was deleted or replaced (device or inode
  // changed) is opened afresh (lock, model.json, OptionsetMetadata) and
  // `generation` moves on, so the writers of the old folder know; a
  // model.json deleted by hand is recreated from what the writers know
  // (logged, counted, and a "model_missing" notice); one changed by someone
  // else is read and checked, and a corrupt one is an error with reason
  // "model_corrupt" for as long as it stays so. Cheap when nothing changed:
  // two stat calls.
  Status CheckLake(uint64_t& generation);
  std::vector<DestinationNotice> TakeNotices() override;
  // How many times model.json was found missing and recreated.
  int64_t models_recreated() const { return models_recreated_.load(); }

  // A file's identity and the stat fields that change when it is written
  // (what a cheap "is it as linkwatch left it" check compares).
  struct FileStamp {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };

  Result<std::unique_ptr<TableWriter>> OpenTable(const TableSchema& schema,
                                                 const TableOptions& options,
                                                 const std::string& marker) override;

  const std::string& path() const { return path_; }
  Env& env() const { return env_; }
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

  // The entity of one table in model.json (lake_model.h).
  using Entity = lake::Entity;

  // Replaces (or adds) an entity and rewrites model.json.
  Status PutEntity(const Entity& entity);
  // The entity as model.json has it now, if any.
  std::optional<Entity> GetEntity(const std::string& name);
  // Puts the table's rows into the lake-wide OptionsetMetadata/*.csv files
  // (its choices' labels and lookups' targets: lake::ChoiceRowsOf), keeping
  // every other table's rows; rewrites (atomically) only the files whose
  // content changed. A SQLite source's tables have no rows.
  Status PutChoiceRows(const std::string& table, const lake::ChoiceRows& rows);

 private:
  LakeDestination(std::string path, Env& env);
  // mu_ held: (re)opens the folder at path_: creates it, locks it, reads
  // model.json, writes the OptionsetMetadata files, remembers its identity.
  Status Attach();
  // mu_ held: whether model.json is as linkwatch left it (see CheckLake);
  // `wrote` says it was recreated.
  Status CheckModel(bool& wrote);
  Status CorruptModelError() const;
  // mu_ held: loads the entities of a parsed model.json (those linkwatch
  // manages are kept from memory when `keep_managed`).
  void LoadEntities(const nlohmann::json& model, bool keep_managed);
  Status WriteModel();      // mu_ held; refuses while model.json is corrupt
  Status WriteModelFile();  // mu_ held

  Env& env_;
  std::string path_;
  std::string root_;
  std::unique_ptr<FileLock> lock_;  // on <lake>/.linkwatch.lock while open
  std::mutex mu_;
  FileStamp folder_;                // the lake folder as attached
  uint64_t generation_ = 0;         // moves on each time the folder is attached afresh
  std::optional<FileStamp> model_;  // model.json as last written or checked
  std::string model_corrupt_;       // what is wrong with model.json; "" when fine
  std::vector<DestinationNotice> notices_;
  std::atomic<int64_t> models_recreated_{0};
  std::map<std::string, Entity> entities_;
  std::map<std::string, nlohmann::json> raw_;  // as read from model.json
  std::set<std::string> managed_;              // entities written by this process
  // The managed entities' JSON text as written into model.json (indented
  // for their place in it), kept until the entity changes: a lake of
  // hundreds of tables rewrites model.json for each table's change, and
  // rendering every entity each time made that quadratic.
  std::map<std::string, std::string> rendered_;
  // Entities of model.json that linkwatch does not manage, kept as they are.
  std::vector<nlohmann::json> foreign_;
  // The OptionsetMetadata files' records by table, read from the files at
  // the first PutChoiceRows after the folder was attached.
  std::map<std::string, lake::ChoiceRows> choice_rows_;
  bool choice_rows_loaded_ = false;
};

}  // namespace linkwatch::sync
