#include "agent/sync/destinations/lake_table_writer.h"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "agent/core/clock.h"
#include "agent/core/files.h"
#include "agent/core/text.h"
#include "agent/core/time_format.h"
#include "agent/sync/destinations/cdm_model_check.h"
#include "agent/sync/destinations/id_index.h"
#include "agent/sync/destinations/lake_format.h"
#include "agent/sync/destinations/lake_location.h"
#include "agent/sync/destinations/lake_model.h"

namespace linkwatch::sync {
using lake::ShapeDecimal;
using lake::ShapeOf;
using nlohmann::json;

namespace {

// --- The writer's own record scanner --------------------------------------
// Deliberately separate from lake_verify's CSV reader: the verifier must not
// share the writer's mistakes. Only what rewriting needs: record boundaries
// and the first two fields.

// The index just past the record starting at `pos` (past its '\n').
size_t RecordEnd(std::string_view buf, size_t pos) {
  const char* base = buf.data();
  const char* end = base + buf.size();
  const char* p = base + pos;
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
  if (nl == nullptr) return buf.size();
  // Fast path: no quote before the newline, so the newline ends the record.
  if (std::memchr(p, '"', nl - p) == nullptr) return static_cast<size_t>(nl - base) + 1;
  bool quoted = false;
  for (; p < end; ++p) {
    if (*p == '"') {
      quoted = !quoted;
    } else if (*p == '\n' && !quoted) {
      return static_cast<size_t>(p - base) + 1;
    }
  }
  return buf.size();
}

// Field `k` of a record: `raw` as written (quoted or not) and `value`
// unquoted. Both are views into the record, except a value with doubled
// quotes, which is unescaped into `scratch`. No allocation otherwise: a
// rewrite reads the Id of every record of the partitions it touches.
void FieldAt(std::string_view rec, int k, std::string_view& raw, std::string_view& value,
             std::string& scratch) {
  size_t i = 0;
  for (int f = 0;; ++f) {
    const size_t start = i;
    size_t end;
    if (i < rec.size() && rec[i] == '"') {
      bool escaped = false;
      size_t j = i + 1;
      for (; j < rec.size(); ++j) {
        if (rec[j] != '"') continue;
        if (j + 1 < rec.size() && rec[j + 1] == '"') {
          escaped = true;
          ++j;
        } else {
          break;
        }
      }
      end = std::min(j + 1, rec.size());
      if (f == k) {
        raw = rec.substr(start, end - start);
        const std::string_view inner = rec.substr(start + 1, j > start + 1 ? j - start - 1 : 0);
        if (!escaped) {
          value = inner;
        } else {
          scratch.clear();
          for (size_t x = 0; x < inner.size(); ++x) {
            scratch += inner[x];
            if (inner[x] == '"') ++x;
          }
          value = scratch;
        }
        return;
      }
    } else {
      end = i;
      while (end < rec.size() && rec[end] != ',' && rec[end] != '\n' && rec[end] != '\r') ++end;
      if (f == k) {
        raw = value = rec.substr(start, end - start);
        return;
      }
    }
    i = end;
    if (i >= rec.size() || rec[i] != ',') {
      raw = value = {};
      return;
    }
    ++i;
  }
}

// How many fields a record has (its trailing newline excluded).
size_t FieldCount(std::string_view rec) {
  if (std::memchr(rec.data(), '"', rec.size()) == nullptr) {
    return 1 + static_cast<size_t>(std::count(rec.begin(), rec.end(), ','));
  }
  size_t n = 1;
  bool quoted = false;
  for (const char c : rec) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      ++n;
    }
  }
  return n;
}

// A record without its line end.
std::string_view WithoutLineEnd(std::string_view rec) {
  while (!rec.empty() && (rec.back() == '\n' || rec.back() == '\r')) rec.remove_suffix(1);
  return rec;
}

// Heterogeneous lookup: find a std::string key by string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Slots of a row, in attribute order.
enum Slot : int {
  kSlotId = -1,
  kSlotSinkCreated = -2,
  kSlotSinkModified = -3,
  kSlotVersion = -4,
  kSlotIsDelete = -5,
  kSlotDropped = -6,
};

// A partition's content rewritten or appended; files are named
// `<table>/<partition>.csv`, temporaries `<table>/.<partition>.csv.tmp`.
std::string PartitionPath(const std::string& dir, const std::string& p) {
  return dir + "/" + p + ".csv";
}
std::string TempPath(const std::string& dir, const std::string& p) {
  return dir + "/." + p + ".csv.tmp";
}

// The partitions present in a table folder.
std::vector<std::string> PartitionsOnDisk(Env& env, const std::string& dir) {
  std::vector<std::string> out;
  auto entries = env.ListDir(dir);
  if (!entries) return out;
  for (const auto& e : *entries) {
    if (!e.is_regular) continue;
    const std::string& name = e.name;
    if (name.size() > 4 && name[0] != '.' && name.ends_with(".csv")) {
      out.push_back(name.substr(0, name.size() - 4));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// zlib's crc32 of a partition's bytes, extended piece by piece while they
// are written. Not a defence against an attacker (who could rewrite the
// marker too): it tells linkwatch's own bytes from a file cut, extended or
// edited by someone else, extends without re-reading what is there
// (crc32(crc, appended)), combines (crc32_combine), and is cheap enough to
// sum every byte written.
uint32_t Crc32(uint32_t crc, std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

std::string Hex32(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// In place: the (length, crc32) of partition contents renamed into place
// since the last stored marker, kept in `<table>/.linkwatch-uncommitted.json`
// so that a crash before the engine stores the next marker is not taken for
// someone else's change (the replayed batch rewrites them the same way).
constexpr const char* kUncommittedFile = ".linkwatch-uncommitted.json";

// ---------------------------------------------------------------------------

class LakeTableWriter final : public TableWriter {
 public:
  LakeTableWriter(LakeDestination& lake, TableSchema schema, TableOptions options)
      : lake_(lake),
        env_(lake.env()),
        schema_(std::move(schema)),
        options_(options),
        dir_(lake.path() + "/" + schema_.name) {}

  Status Open(const std::string& marker);

  Status Begin(bool initial, double now) override {
    Abort();
    if (confirm_on_begin_) {
      // The engine stored the last marker before starting this batch (it
      // drops the writer when storing fails): the contents it lists are
      // committed now.
      confirm_on_begin_ = false;
      if (!uncommitted_.empty()) {
        uncommitted_.clear();
        // Made durable by the folder's next fsync (a batch that renames a
        // partition); coming back after a power cut before that is
        // harmless: it lists the contents the stored marker names.
        (void)env_.RemoveFile(dir_ + "/" + kUncommittedFile);
      }
    }
    if (auto s = CheckCommitted(initial); !s.ok()) return s;
    failed_.clear();
    synced_ids_.clear();
    stats_ = {};
    initial_ = initial;
    now_ = now;
    sink_now_.clear();
    lake::AppendSinkTime(sink_now_, now);
    return Status::Ok();
  }
  Status Check() override { return CheckCommitted(false); }
  Status Put(const RowView& row) override;
  void ReportSyncedIds(bool on) override { report_synced_ = on; }
  Result<BatchResult> Commit() override;
  Result<SnapshotResult> Snapshot(double now, int keep) override;
  bool NeedsEveryRowAgain() const override {
    return options_.append_only && last_default_attr_ >= static_cast<int>(filled_width_);
  }
  void EveryRowLogged() override { filled_width_ = attributes_.size(); }
  void Abort() override {
    pending_.clear();
    pending_by_id_.clear();
    buffers_.clear();
    // Not made durable: a temporary coming back after a power cut is
    // removed by the next Open.
    for (auto& [p, f] : initial_files_) (void)env_.RemoveFile(TempPath(dir_, partition_names_[p]));
    initial_files_.clear();
    initial_crc_.clear();
    initial_ids_.clear();
    collided_.clear();
    initial_written_ = 0;
    batch_rows_ = 0;
    created_ = updated_ = deleted_ = 0;
  }

 private:
  // One change of an in-place batch.
  struct Pending {
    std::string id;
    std::string head;  // the Id field as written
    std::string tail;  // ",SinkModifiedOn,...\n"
    std::string sink_created;
    bool deleted = false;
    bool created = false;
    int old_partition = -1;
    int new_partition = -1;
  };

  int PartitionIndex(const std::string& name) {
    auto it = std::find(partition_names_.begin(), partition_names_.end(), name);
    if (it != partition_names_.end()) return static_cast<int>(it - partition_names_.begin());
    partition_names_.push_back(name);
    return static_cast<int>(partition_names_.size() - 1);
  }
  // The partition index of a row (by createdon; deletes and rows without
  // createdon by the sync time), cached per day.
  int PartitionOf(const RowView& row, double now);
  std::string& Buffer(int partition) {
    if (buffers_.size() <= static_cast<size_t>(partition)) buffers_.resize(partition + 1);
    return buffers_[partition];
  }
  // Renders slots from SinkModifiedOn on (",...\n"). A value that cannot be
  // written as its attribute's type stops it: `out` is cut back and the
  // failed record's reason returned ("" when rendered).
  std::string RenderTail(std::string& out, const RowView& row);
  std::string RenderLine(std::string& out, const std::string& id, const RowView& row);
  void Fail(const std::string& id, int64_t version, std::string reason) {
    failed_.push_back({id, version, std::move(reason)});
  }
  // Initial: drops the records of collided_ Ids from partition `p`'s data.
  Status DropCollided(int p);
  // Rebuilds the Id index from the files; with `remember`, also what each
  // partition holds now (committed_).
  Status LoadIndex(bool remember = false);
  // What a marker says was committed: partition -> (length, crc32 if known).
  struct Expected {
    uint64_t length = 0;
    std::optional<uint32_t> crc;
  };
  Result<std::map<std::string, Expected>> ParseMarker(const std::string& marker) const;
  Status CutBack(const std::map<std::string, Expected>& expected);
  // After reopening with a marker: each partition holds what it recorded (or,
  // in place, what an uncommitted rewrite left, uncommitted_).
  Status VerifyOpened(const std::map<std::string, Expected>& expected);
  // At the start of a batch: the lake folder is the one the table was
  // written to, and every committed partition still holds what was written.
  Status CheckCommitted(bool initial);
  // A partition whose stat changed: its content is read and checked.
  Status VerifyPartition(const std::string& name);
  // A break for a partition that holds `size` bytes with `crc` where
  // `committed` was committed.
  Status ChangedBreak(const std::string& name, uint64_t size, uint32_t crc, uint64_t length,
                      std::optional<uint32_t> committed_crc) const;
  Status MissingBreak(const std::string& name, uint64_t length) const {
    return Status::Break("partition_missing", "lake partition " + PartitionPath(dir_, name) +
                                                  " is missing; linkwatch had committed " +
                                                  std::to_string(length) + " bytes of it");
  }
  // Records what linkwatch just wrote to a partition (and its stat).
  Status Remember(const std::string& name, uint64_t size, uint32_t crc);
  // In place: notes a content about to be renamed into place before its
  // marker is stored (kUncommittedFile).
  Status NoteUncommitted(const std::string& name, uint64_t size, uint32_t crc);
  // Rewrites partition `pi` to a temporary and renames it into place: its
  // records minus those this batch replaces (with `gains_only`, only those
  // whose new copy lands in it: a record moving out stays until the
  // partition it moves to has been replaced), short records padded with the
  // defaults of columns added later, then `adds`. A partition that becomes
  // empty stays, as an empty file, listed in model.json: a reader that has
  // just read model.json never meets a missing file.
  Status RewritePartition(int pi, bool gains_only, const std::vector<size_t>& adds,
                          bool& partitions_changed);
  // Initial: writes to partition `p`'s temporary, extending its crc32.
  Status WriteInitial(int p, WritableFile& f, std::string_view data) {
    auto& [length, crc] = initial_crc_[p];
    length += data.size();
    crc = Crc32(crc, data);
    return f.Append(data);
  }
  Result<BatchResult> CommitInitial(double now);
  Result<BatchResult> CommitInPlace(double now);
  Result<BatchResult> CommitAppend(double now);
  Status UpdateEntity(const std::vector<std::string>& partitions, bool initial_done, double now);
  std::string Marker() const;

  LakeDestination& lake_;
  Env& env_;  // the lake's
  TableSchema schema_;
  TableOptions options_;
  std::string dir_;
  std::vector<int> slots_;  // per attribute
  json attributes_;
  // Columns added to the source later, with a DEFAULT: the highest such
  // attribute (-1: none), and for a record of n fields what completes it
  // (",<default or empty>" for each attribute from n on).
  int last_default_attr_ = -1;
  std::vector<std::string> pad_suffix_;
  // In place: partitions holding records that lack such a default.
  std::set<std::string> short_partitions_;
  // Append only: attributes that every live record's latest row carries
  // (in the marker, "$attributes"); a default attribute at or after it
  // means every row must be written again (NeedsEveryRowAgain).
  size_t filled_width_ = 0;

  // In place: Id -> partition index.
  IdIndex index_;
  // Ids found in more than one partition when the files were scanned.
  std::unordered_map<std::string, std::vector<int>> extra_partitions_;
  std::vector<std::string> partition_names_;
  std::set<std::string> partitions_;  // on disk, committed
  // What linkwatch last wrote to each partition (every partition on disk):
  // length, crc32 and the stat to compare with cheaply.
  struct Written {
    uint64_t length = 0;
    uint32_t crc = 0;
    LakeDestination::FileStamp stamp;
  };
  std::map<std::string, Written> committed_;
  // In place: contents renamed into place that no stored marker lists yet.
  std::map<std::string, std::vector<std::pair<uint64_t, uint32_t>>> uncommitted_;
  bool confirm_on_begin_ = false;  // a Commit returned a marker
  uint64_t lake_generation_ = 0;   // LakeDestination::CheckLake's, when opened
  int64_t records_ = 0;            // lakerecordcount
  int64_t max_version_ = 0;        // highest versionnumber written

  bool initial_ = false;
  double now_ = 0;
  int64_t batch_rows_ = 0;
  std::vector<Pending> pending_;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> pending_by_id_;
  std::vector<std::string> buffers_;  // append only / initial: by partition index
  std::map<int, std::unique_ptr<WritableFile>> initial_files_;
  std::map<int, std::pair<uint64_t, uint32_t>> initial_crc_;  // length, crc32 of each
  IdIndex initial_ids_;
  std::unordered_map<int64_t, int> partition_of_day_;
  std::string sink_now_;  // SinkModifiedOn of this batch
  int64_t created_ = 0, updated_ = 0, deleted_ = 0;
  // Failed records (docs/sync.md "Failed records").
  std::vector<FailedRecord> failed_;
  std::vector<std::string> synced_ids_;
  bool report_synced_ = false;
  lake::RenderStats stats_;
  // Initial: Ids that two or more source rows would share; none is written.
  std::set<std::string, std::less<>> collided_;
  int64_t initial_written_ = 0;  // initial records rendered (append-only lakerecordcount)
};

constexpr const char* kCollision =
    "two or more source rows have keys written as this same Id (e.g. GUIDs differing only in "
    "case, or 1 and '1'); none of them is written";

Status LakeTableWriter::Open(const std::string& marker) {
  if (auto s = lake_.CheckLake(lake_generation_); !s.ok()) return s;
  auto expected = ParseMarker(marker);
  if (!expected) return expected.status();
  if (auto s = CreateDirsDurably(env_, dir_); !s.ok()) return s;
  // Temporaries of a rewrite, initial load or snapshot that a crash
  // interrupted. Not made durable: one coming back after a power cut is
  // hidden from readers and removed again here.
  for (const std::string& folder : {dir_, dir_ + "/Snapshot"}) {
    auto entries = env_.ListDir(folder);
    if (!entries) continue;
    for (const auto& e : *entries) {
      const std::string& name = e.name;
      if (name.size() > 1 && name[0] == '.' && name.ends_with(".tmp")) {
        (void)env_.RemoveFile(folder + "/" + name);
      }
    }
  }

  // Attributes: those model.json already has (older rows keep their
  // positions), then source columns it lacks; a new table gets the standard
  // order.
  auto existing = lake_.GetEntity(schema_.name);
  const bool existed = existing && !existing->attributes.empty();
  if (existed) {
    attributes_ = existing->attributes;
    const char* fixed[] = {"Id", "SinkCreatedOn", "SinkModifiedOn"};
    for (int i = 0; i < 3; ++i) {
      if (attributes_.size() <= static_cast<size_t>(i) ||
          attributes_[i].value("name", "") != fixed[i]) {
        return Status::Error("model.json in " + lake_.path() + ": entity " + schema_.name +
                             " does not start with Id, SinkCreatedOn, SinkModifiedOn");
      }
    }
  } else {
    attributes_ = json::array();
    attributes_.push_back({{"name", "Id"}, {"dataType", "string"}, {"maxLength", -1}});
    attributes_.push_back({{"name", "SinkCreatedOn"}, {"dataType", "dateTime"}, {"maxLength", -1}});
    attributes_.push_back(
        {{"name", "SinkModifiedOn"}, {"dataType", "dateTime"}, {"maxLength", -1}});
    for (const auto& c : schema_.columns) {
      attributes_.push_back(
          {{"name", c.name}, {"dataType", CdmDataType(c.type)}, {"maxLength", -1}});
    }
    attributes_.push_back({{"name", "versionnumber"}, {"dataType", "int64"}, {"maxLength", -1}});
    attributes_.push_back({{"name", "IsDelete"}, {"dataType", "boolean"}, {"maxLength", -1}});
  }
  // Id is a guid only where every key is one by construction (a key column
  // declared GUID/UUID/UNIQUEIDENTIFIER, whose other values are refused);
  // readers map guid to uniqueidentifier and fail on anything else.
  attributes_[0]["dataType"] =
      schema_.key >= 0 && schema_.columns[schema_.key].type == ValueType::kGuid ? "guid" : "string";
  // The lake's own versionnumber and IsDelete: the last adjacent pair of
  // those names (a source may have columns called so too).
  auto name_at = [&](size_t a) { return attributes_[a].value("name", std::string()); };
  int sys_version = -1;
  for (size_t a = 3; a + 1 < attributes_.size(); ++a) {
    if (name_at(a) == "versionnumber" && name_at(a + 1) == "IsDelete") {
      sys_version = static_cast<int>(a);
    }
  }
  if (sys_version < 0) {
    return Status::Error("model.json in " + lake_.path() + ": entity " + schema_.name +
                         " has no versionnumber, IsDelete attributes");
  }
  auto is_system = [&](size_t a) {
    return a < 3 || static_cast<int>(a) == sys_version || static_cast<int>(a) == sys_version + 1;
  };
  // Source columns model.json lacks are appended after IsDelete.
  const size_t known_attributes = attributes_.size();
  for (size_t c = 0; c < schema_.columns.size(); ++c) {
    bool present = false;
    for (size_t a = 3; a < attributes_.size(); ++a) {
      present |= !is_system(a) && EqualsIgnoreCase(name_at(a), schema_.columns[c].name);
    }
    if (!present) {
      attributes_.push_back({{"name", schema_.columns[c].name},
                             {"dataType", CdmDataType(schema_.columns[c].type)},
                             {"maxLength", -1}});
    }
  }
  slots_.clear();
  for (size_t a = 0; a < attributes_.size(); ++a) {
    if (a == 0) {
      slots_.push_back(kSlotId);
    } else if (a == 1) {
      slots_.push_back(kSlotSinkCreated);
    } else if (a == 2) {
      slots_.push_back(kSlotSinkModified);
    } else if (static_cast<int>(a) == sys_version) {
      slots_.push_back(kSlotVersion);
    } else if (static_cast<int>(a) == sys_version + 1) {
      slots_.push_back(kSlotIsDelete);
    } else {
      const int c = schema_.ColumnIndex(name_at(a));
      slots_.push_back(c >= 0 ? c : kSlotDropped);
    }
  }
  // Decimal attributes carry their precision and scale (older lakes'
  // attributes are upgraded here); a dropped column keeps what it had.
  for (size_t a = 3; a < attributes_.size(); ++a) {
    if (attributes_[a].value("dataType", "") != "decimal") continue;
    if (slots_[a] >= 0 && schema_.columns[slots_[a]].type == ValueType::kDecimal) {
      const SourceColumn& c = schema_.columns[slots_[a]];
      ShapeDecimal(attributes_[a], c.precision, c.scale);
    } else if (!ShapeOf(attributes_[a])) {
      ShapeDecimal(attributes_[a], SourceColumn().precision, SourceColumn().scale);
    }
  }
  // Columns added after IsDelete with a DEFAULT: what a shorter record lacks.
  std::vector<std::string> fields(attributes_.size());
  last_default_attr_ = -1;
  for (size_t a = sys_version + 2; a < attributes_.size(); ++a) {
    const int c = slots_[a];
    if (c < 0 || static_cast<size_t>(c) >= schema_.defaults.size() ||
        schema_.defaults[c].kind == Value::Kind::kNull) {
      continue;
    }
    if (lake::RenderError e =
            lake::AppendValue(fields[a], schema_.columns[c], schema_.defaults[c].view(),
                              c == schema_.createdon, stats_)) {
      // Every record that predates the column holds this value: none of them
      // could be written, so the table stops here, loudly.
      return Status::Error("table " + schema_.name + ": the DEFAULT of column " +
                           schema_.columns[c].name + " cannot be written to the lake: " + e);
    }
    last_default_attr_ = static_cast<int>(a);
  }
  pad_suffix_.assign(attributes_.size() + 1, std::string());
  for (size_t n = attributes_.size(); n-- > 0;) {
    pad_suffix_[n] = "," + fields[n] + pad_suffix_[n + 1];
  }
  if (options_.append_only) options_.partition = Partitioning::kYear;
  // Append only: which attributes the committed rows carry. A marker from
  // before "$attributes" existed: those model.json had; no marker yet: all
  // (the initial sync writes whole rows).
  filled_width_ = attributes_.size();
  if (options_.append_only && !marker.empty()) {
    const json m = json::parse(marker, nullptr, /*allow_exceptions=*/false);
    filled_width_ =
        m.is_object() && m.contains("$attributes") && m["$attributes"].is_number_unsigned()
            ? m["$attributes"].get<size_t>()
            : (existed ? known_attributes : attributes_.size());
  }
  if (last_default_attr_ < static_cast<int>(filled_width_)) filled_width_ = attributes_.size();
  if (!marker.empty()) {
    if (auto s = CutBack(*expected); !s.ok()) return s;
  }
  if (auto s = LoadIndex(/*remember=*/true); !s.ok()) return s;
  if (!marker.empty()) {
    if (auto s = VerifyOpened(*expected); !s.ok()) return s;
  }
  if (auto s =
          lake::WriteEntityMetadata(env_, lake_.path(), schema_.name, attributes_, schema_.columns);
      !s.ok()) {
    return s;
  }
  if (auto s = lake_.PutChoiceRows(schema_.name, lake::ChoiceRowsOf(schema_.name, schema_.columns));
      !s.ok()) {
    return s;
  }
  if (auto s = UpdateEntity({partitions_.begin(), partitions_.end()}, false, 0); !s.ok()) return s;
  // In place, records that predate a column added with a DEFAULT get it now
  // (after model.json lists the column; each partition rewritten atomically; a crash leaves the
  // rest short, and the next open finds them again).
  if (!options_.append_only && !short_partitions_.empty()) {
    bool changed = false;
    const std::set<std::string> short_ones = short_partitions_;
    for (const auto& p : short_ones) {
      if (auto s = RewritePartition(PartitionIndex(p), false, {}, changed); !s.ok()) return s;
    }
    if (auto s = env_.SyncDir(dir_); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::map<std::string, LakeTableWriter::Expected>> LakeTableWriter::ParseMarker(
    const std::string& marker) const {
  std::map<std::string, Expected> out;
  if (marker.empty()) return out;
  const json m = json::parse(marker, nullptr, /*allow_exceptions=*/false);
  if (!m.is_object()) return Status::Error("unreadable lake marker for " + schema_.name);
  for (const auto& [name, v] : m.items()) {
    if (name.starts_with("$")) continue;  // "$attributes"; partition names never start so
    Expected e;
    if (v.is_number_unsigned()) {
      e.length = v.get<uint64_t>();  // before crc32s were recorded: the length only
    } else if (v.is_object() && v.contains("length") && v["length"].is_number_unsigned() &&
               v.contains("crc32") && v["crc32"].is_number_unsigned()) {
      e.length = v["length"].get<uint64_t>();
      e.crc = v["crc32"].get<uint32_t>();
    } else {
      return Status::Error("unreadable lake marker for " + schema_.name + ": partition " + name);
    }
    out[name] = e;
  }
  return out;
}

Status LakeTableWriter::CutBack(const std::map<std::string, Expected>& expected) {
  if (!options_.append_only) return Status::Ok();
  bool removed = false;
  for (const auto& p : PartitionsOnDisk(env_, dir_)) {
    const std::string path = PartitionPath(dir_, p);
    auto it = expected.find(p);
    if (it == expected.end()) {
      // Created after the last committed batch: its rows will be replayed.
      removed |= env_.RemoveFile(path).ok();
      continue;
    }
    const uint64_t committed = it->second.length;
    auto f = env_.OpenWritable(path, Env::WriteMode::kReadWrite);
    if (!f) return f.status();
    auto size = (*f)->Size();
    if (!size) return size.status();
    // Longer: a batch whose cursor was not stored (its rows are replayed).
    // Shorter stays as it is: VerifyOpened reports it.
    if (*size > committed) {
      if (auto s = (*f)->Truncate(committed); !s.ok()) return s;
      if (auto s = (*f)->Sync(); !s.ok()) return s;
    }
  }
  // The removals made durable before anything is written on top of them:
  // the replay may put its rows elsewhere and never fsync this folder, and
  // a partition coming back after a power cut would hold rows twice.
  if (removed) return env_.SyncDir(dir_);
  return Status::Ok();
}

Status LakeTableWriter::VerifyOpened(const std::map<std::string, Expected>& expected) {
  // In place, contents an uncommitted batch renamed into place are ours too.
  if (!options_.append_only) {
    uncommitted_.clear();
    if (auto text = env_.ReadFile(dir_ + "/" + kUncommittedFile); text.ok()) {
      const json u = json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (u.is_object()) {
        for (const auto& [name, list] : u.items()) {
          if (!list.is_array()) continue;
          for (const auto& e : list) {
            if (e.is_array() && e.size() == 2 && e[0].is_number_unsigned() &&
                e[1].is_number_unsigned()) {
              uncommitted_[name].push_back({e[0].get<uint64_t>(), e[1].get<uint32_t>()});
            }
          }
        }
      }
    }
  }
  auto uncommitted_match = [&](const std::string& name, const Written& w) {
    auto it = uncommitted_.find(name);
    if (it == uncommitted_.end()) return false;
    return std::find(it->second.begin(), it->second.end(), std::make_pair(w.length, w.crc)) !=
           it->second.end();
  };
  for (const auto& [name, e] : expected) {
    auto it = committed_.find(name);
    if (it == committed_.end()) {
      return MissingBreak(name, e.length);
    }
    const Written& w = it->second;
    if (w.length == e.length && (!e.crc || *e.crc == w.crc)) continue;
    if (uncommitted_match(name, w)) continue;
    return ChangedBreak(name, w.length, w.crc, e.length, e.crc);
  }
  for (const auto& [name, w] : committed_) {
    if (expected.count(name) || uncommitted_match(name, w)) continue;
    return Status::Break("partition_changed", "lake partition " + PartitionPath(dir_, name) +
                                                  " is not one linkwatch committed (" +
                                                  std::to_string(w.length) + " bytes)");
  }
  return Status::Ok();
}

Status LakeTableWriter::ChangedBreak(const std::string& name, uint64_t size, uint32_t crc,
                                     uint64_t length, std::optional<uint32_t> committed_crc) const {
  std::string what = "lake partition " + PartitionPath(dir_, name) + " ";
  if (size < length) {
    what += "is " + std::to_string(size) + " bytes, shorter than the " + std::to_string(length) +
            " bytes linkwatch committed (truncated)";
  } else if (size > length) {
    what += "is " + std::to_string(size) + " bytes, longer than the " + std::to_string(length) +
            " bytes linkwatch committed";
    if (options_.append_only) what += ", and the committed bytes differ";
  } else {
    what += "holds other content than linkwatch committed (" + std::to_string(size) +
            " bytes, crc32 " + Hex32(crc) + " instead of " +
            (committed_crc ? Hex32(*committed_crc) : std::string("?")) + ")";
  }
  return Status::Break("partition_changed", what);
}

Status LakeTableWriter::Remember(const std::string& name, uint64_t size, uint32_t crc) {
  const std::string path = PartitionPath(dir_, name);
  auto info = env_.Stat(path);
  if (!info) return info.status();
  if (!*info) return Status::Error("cannot stat " + path + ": " + std::strerror(ENOENT));
  Written& w = committed_[name];
  w.length = size;
  w.crc = crc;
  w.stamp = StampOf(**info);
  return Status::Ok();
}

Status LakeTableWriter::NoteUncommitted(const std::string& name, uint64_t size, uint32_t crc) {
  uncommitted_[name].push_back({size, crc});
  json u = json::object();
  for (const auto& [p, list] : uncommitted_) {
    json l = json::array();
    for (const auto& [n, c] : list) l.push_back(json::array({n, c}));
    u[p] = std::move(l);
  }
  // Fsynced before its rename, which comes before the partition's rename
  // into place: a power loss that keeps the partition keeps the note, else
  // the stored marker would not account for the partition's content and the
  // table would be resynced for nothing. The table folder is fsynced at the
  // end of the batch, for both renames.
  const std::string path = dir_ + "/" + kUncommittedFile;
  const std::string tmp = path + ".part";
  {
    auto f = env_.OpenWritable(tmp, Env::WriteMode::kCreateTruncate);
    if (!f) return f.status();
    if (auto s = (*f)->Append(u.dump()); !s.ok()) return s;
    if (auto s = (*f)->Sync(); !s.ok()) return s;
  }
  return env_.Rename(tmp, path);
}

Status LakeTableWriter::CheckCommitted(bool initial) {
  uint64_t generation = 0;
  if (auto s = lake_.CheckLake(generation); !s.ok()) return s;
  if (generation != lake_generation_) {
    lake_generation_ = generation;
    if (!initial) {
      return Status::Break("lake_replaced", "the lake folder " + lake_.path() +
                                                " was deleted or replaced since table " +
                                                schema_.name +
                                                " was committed to it (its device/inode changed)");
    }
    // An initial batch writes everything into the new folder.
    committed_.clear();
    uncommitted_.clear();
    partitions_.clear();
    index_.clear();
    extra_partitions_.clear();
    if (auto s = CreateDirsDurably(env_, dir_); !s.ok()) return s;
  }
  if (initial) return Status::Ok();
  for (const auto& [name, w] : committed_) {
    const std::string path = PartitionPath(dir_, name);
    auto info = env_.Stat(path);
    if (!info) return info.status();
    if (!*info) return MissingBreak(name, w.length);
    if (StampOf(**info) == w.stamp) continue;
    if (auto s = VerifyPartition(name); !s.ok()) return s;
  }
  return Status::Ok();
}

Status LakeTableWriter::VerifyPartition(const std::string& name) {
  const Written w = committed_.at(name);
  const std::string path = PartitionPath(dir_, name);
  uint64_t size = 0;
  {
    auto m = env_.MapFile(path);
    if (!m) return m.status();
    const std::string_view content = m->view();
    size = content.size();
    const uint32_t crc = Crc32(0, content.substr(0, std::min<uint64_t>(size, w.length)));
    if (size < w.length || crc != w.crc || (size > w.length && !options_.append_only)) {
      return ChangedBreak(name, size, Crc32(0, content), w.length, w.crc);
    }
  }
  if (size > w.length) {
    // Append only, bytes after the committed ones that no batch of this
    // process wrote: cut back, as after a crash (never glued onto).
    spdlog::warn(
        "lake: {} is {} bytes longer than linkwatch committed; cutting it back to the committed "
        "{} bytes",
        path, size - w.length, w.length);
    auto f = env_.OpenWritable(path, Env::WriteMode::kReadWrite);
    if (!f) return f.status();
    if (auto s = (*f)->Truncate(w.length); !s.ok()) return s;
    if (auto s = (*f)->Sync(); !s.ok()) return s;
  }
  return Remember(name, w.length, w.crc);  // the same bytes (only touched, or cut back)
}

Status LakeTableWriter::LoadIndex(bool remember) {
  if (remember) committed_.clear();
  index_.clear();
  extra_partitions_.clear();
  short_partitions_.clear();
  partitions_.clear();
  records_ = 0;
  max_version_ = 0;
  const int version_field = static_cast<int>(
      std::find(slots_.begin(), slots_.end(), static_cast<int>(kSlotVersion)) - slots_.begin());
  std::string scratch;
  std::string_view raw, value;
  for (const auto& p : PartitionsOnDisk(env_, dir_)) {
    auto mapped = env_.MapFile(PartitionPath(dir_, p));
    if (!mapped) return mapped.status();
    const std::string_view content = mapped->view();
    partitions_.insert(p);
    if (remember) {
      if (auto s = Remember(p, content.size(), Crc32(0, content)); !s.ok()) return s;
    }
    const int pi = PartitionIndex(p);
    for (size_t pos = 0; pos < content.size();) {
      const size_t end = RecordEnd(content, pos);
      const std::string_view record = content.substr(pos, end - pos);
      if (version_field < static_cast<int>(slots_.size())) {
        FieldAt(record, version_field, raw, value, scratch);
        int64_t version = 0;
        std::from_chars(value.data(), value.data() + value.size(), version);
        max_version_ = std::max(max_version_, version);
      }
      if (options_.append_only) {
        ++records_;
      } else {
        if (last_default_attr_ >= 0 &&
            FieldCount(WithoutLineEnd(record)) <= static_cast<size_t>(last_default_attr_)) {
          short_partitions_.insert(p);
        }
        FieldAt(record, 0, raw, value, scratch);
        // An Id in two partitions: a crash between the two renames of a row
        // whose createdon moved it. The replayed batch holds that Id, and its
        // commit rewrites every partition listed here.
        if (const int before = index_.Find(value); before >= 0 && before != pi) {
          auto& extra = extra_partitions_[std::string(value)];
          if (extra.empty()) extra.push_back(before);
          extra.push_back(pi);
        }
        index_.Put(value, pi);
      }
      pos = end;
    }
  }
  if (!options_.append_only) records_ = static_cast<int64_t>(index_.size());
  return Status::Ok();
}

int LakeTableWriter::PartitionOf(const RowView& row, double now) {
  // A delete (append only) goes to the year it was synced; a row whose
  // createdon is missing or unusable to the sync time's partition.
  double t = now;
  Partitioning partitioning = row.deleted ? Partitioning::kYear : options_.partition;
  if (!row.deleted && schema_.createdon >= 0 && !row.values.empty()) {
    if (auto created = lake::DateTimeOf(row.values[schema_.createdon])) {
      t = *created;
      partitioning = options_.partition;
    }
  }
  // Cached by (day, granularity): a million rows name a few partitions.
  const int64_t day = static_cast<int64_t>(std::floor(t / 86400)) * 2 +
                      (partitioning == Partitioning::kMonth ? 1 : 0);
  auto it = partition_of_day_.find(day);
  if (it != partition_of_day_.end()) return it->second;
  const int pi = PartitionIndex(lake::PartitionName(t, partitioning));
  partition_of_day_.emplace(day, pi);
  return pi;
}

std::string LakeTableWriter::RenderTail(std::string& out, const RowView& row) {
  const size_t mark = out.size();
  for (size_t a = 2; a < slots_.size(); ++a) {
    out += ',';
    const int slot = slots_[a];
    switch (slot) {
      case kSlotSinkModified:
        out += sink_now_;
        break;
      case kSlotVersion: {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, row.version);
        (void)ec;
        out.append(buf, end);
        break;
      }
      case kSlotIsDelete:
        if (row.deleted) out += "True";
        break;
      case kSlotDropped:
      case kSlotId:
      case kSlotSinkCreated:
        break;
      default:
        if (!row.deleted && static_cast<size_t>(slot) < row.values.size()) {
          const SourceColumn& column = schema_.columns[slot];
          if (lake::RenderError e = lake::AppendValue(out, column, row.values[slot],
                                                      slot == schema_.createdon, stats_)) {
            out.resize(mark);
            return "column " + column.name + ": " + e;
          }
        }
    }
  }
  out += '\n';
  return {};
}

std::string LakeTableWriter::RenderLine(std::string& out, const std::string& id,
                                        const RowView& row) {
  const size_t mark = out.size();
  lake::AppendCsvField(out, id);
  out += ',';
  out += sink_now_;
  std::string error = RenderTail(out, row);
  if (!error.empty()) out.resize(mark);
  return error;
}

Status LakeTableWriter::DropCollided(int p) {
  // Rare (two source keys that read as one Id): the partition's data so far
  // is read back and written again without them.
  std::string& buf = Buffer(p);
  std::string data;
  auto it = initial_files_.find(p);
  const std::string tmp = TempPath(dir_, partition_names_[p]);
  if (it != initial_files_.end()) {
    if (auto s = it->second->Append(buf); !s.ok()) return s;  // read back at once: no crc
    if (auto s = it->second->Sync(); !s.ok()) return s;
    auto m = env_.MapFile(tmp);
    if (!m) return m.status();
    data.assign(m->view());
    buf.clear();
  } else {
    data.swap(buf);
  }
  std::string kept;
  kept.reserve(data.size());
  std::string scratch;
  std::string_view raw, id;
  for (size_t pos = 0; pos < data.size();) {
    const size_t end = RecordEnd(data, pos);
    const std::string_view record = std::string_view(data).substr(pos, end - pos);
    FieldAt(record, 0, raw, id, scratch);
    if (collided_.count(id) == 0) {
      kept.append(record);
    } else {
      --initial_written_;
    }
    pos = end;
  }
  if (it != initial_files_.end()) {
    auto f = env_.OpenWritable(tmp, Env::WriteMode::kCreateTruncate);
    if (!f) return f.status();
    it->second = std::move(f).value();
    initial_crc_.erase(p);
    if (auto s = WriteInitial(p, *it->second, kept); !s.ok()) return s;
  } else {
    buf.swap(kept);
  }
  return Status::Ok();
}

Status LakeTableWriter::Put(const RowView& row) {
  ++batch_rows_;
  const double now = now_;
  max_version_ = std::max(max_version_, row.version);
  std::string id;
  if (lake::RenderError e = lake::RenderId(row.key, schema_.columns[schema_.key], id)) {
    // Never reached the lake: a delete has nothing to remove.
    if (!row.deleted) {
      Fail(id, row.version, "key " + schema_.columns[schema_.key].name + ": " + e);
    } else if (report_synced_) {
      synced_ids_.push_back(id);
    }
    return Status::Ok();
  }
  if (initial_) {
    if (row.deleted) return Status::Ok();
    // In place, the Id index of the load finds collisions for free; append
    // only keeps no index, and the engine looks up the key's twins instead.
    if (row.key_twins > 0 ||
        (!options_.append_only && (collided_.count(id) != 0 || initial_ids_.Find(id) >= 0))) {
      if (!options_.append_only) collided_.insert(id);
      Fail(id, row.version, kCollision);
      return Status::Ok();
    }
    const int p = PartitionOf(row, now);
    std::string& buf = Buffer(p);
    if (std::string error = RenderLine(buf, id, row); !error.empty()) {
      Fail(id, row.version, std::move(error));
      return Status::Ok();
    }
    ++initial_written_;
    if (!options_.append_only) initial_ids_.Put(id, p);
    if (buf.size() >= (1 << 20)) {
      auto it = initial_files_.find(p);
      if (it == initial_files_.end()) {
        auto f =
            env_.OpenWritable(TempPath(dir_, partition_names_[p]), Env::WriteMode::kCreateTruncate);
        if (!f) return f.status();
        it = initial_files_.emplace(p, std::move(f).value()).first;
      }
      if (auto s = WriteInitial(p, *it->second, buf); !s.ok()) return s;
      buf.clear();
    }
    return Status::Ok();
  }
  // A change that cannot be written leaves the lake without the record (a
  // failed record is never in the lake, not even in an older version); so
  // does one whose key collides with another source row's.
  RowView effective = row;
  bool failed = false;
  if (row.key_twins > 0) {
    Fail(id, row.version, kCollision);
    failed = true;
  }
  if (options_.append_only) {
    std::string& buf = Buffer(PartitionOf(row, now));
    if (!failed && !row.deleted) {
      if (std::string error = RenderLine(buf, id, row); !error.empty()) {
        Fail(id, row.version, std::move(error));
        failed = true;
      }
    }
    if (failed || row.deleted) {
      effective.deleted = true;
      effective.values = {};
      (void)RenderLine(buf, id, effective);  // a delete row renders no values
    }
    if (effective.deleted) {
      ++deleted_;
    } else if (row.created) {
      ++created_;
    } else {
      ++updated_;
    }
    if (!failed && report_synced_) synced_ids_.push_back(id);
    return Status::Ok();
  }
  Pending p;
  if (!failed && !row.deleted) {
    if (std::string error = RenderTail(p.tail, row); !error.empty()) {
      Fail(id, row.version, std::move(error));
      failed = true;
    }
  }
  lake::AppendCsvField(p.head, id);
  p.deleted = row.deleted || failed;
  p.created = row.created;
  if (!p.deleted) p.new_partition = PartitionOf(row, now);
  if (!failed && report_synced_) synced_ids_.push_back(id);
  p.id = std::move(id);
  auto [it, fresh] = pending_by_id_.emplace(p.id, pending_.size());
  if (fresh) {
    pending_.push_back(std::move(p));
  } else {
    pending_[it->second] = std::move(p);
  }
  return Status::Ok();
}

Result<BatchResult> LakeTableWriter::Commit() {
  const double now = now_;
  Result<BatchResult> r = initial_               ? CommitInitial(now)
                          : options_.append_only ? CommitAppend(now)
                                                 : CommitInPlace(now);
  if (!r.ok()) {
    Abort();
    // What is on disk is the truth again (committed_ says what linkwatch
    // wrote of it).
    if (auto s = LoadIndex(); !s.ok()) return s;
    return r;
  }
  confirm_on_begin_ = true;
  r->records = records_;
  r->marker = Marker();
  r->failed = std::move(failed_);
  r->synced_ids = std::move(synced_ids_);
  r->invalid_text = stats_.invalid_text;
  failed_.clear();
  synced_ids_.clear();
  stats_ = {};
  collided_.clear();
  initial_written_ = 0;
  pending_.clear();
  pending_by_id_.clear();
  buffers_.clear();
  initial_files_.clear();
  initial_ids_.clear();
  batch_rows_ = 0;
  initial_ = false;
  return r;
}

std::string LakeTableWriter::Marker() const {
  // {"2024": {"length": 1234, "crc32": 305419896}, ..., "$attributes": 9}
  // (append only: "$attributes", see filled_width_). Older markers: "" in
  // place, {"2024": 1234, ...} append only; both still read (ParseMarker).
  json m = json::object();
  for (const auto& [p, w] : committed_) m[p] = {{"length", w.length}, {"crc32", w.crc}};
  if (options_.append_only) m["$attributes"] = filled_width_;  // partitions never start with '$'
  return m.dump();
}

Result<BatchResult> LakeTableWriter::CommitInitial(double now) {
  BatchResult result;
  std::set<std::string> written;
  if (!collided_.empty()) {
    for (size_t p = 0; p < buffers_.size(); ++p) {
      if (auto s = DropCollided(static_cast<int>(p)); !s.ok()) return s;
    }
    for (const auto& id : collided_) initial_ids_.Erase(id);
  }
  for (size_t p = 0; p < buffers_.size(); ++p) {
    if (buffers_[p].empty()) continue;
    auto it = initial_files_.find(static_cast<int>(p));
    if (it == initial_files_.end()) {
      auto f =
          env_.OpenWritable(TempPath(dir_, partition_names_[p]), Env::WriteMode::kCreateTruncate);
      if (!f) return f.status();
      it = initial_files_.emplace(static_cast<int>(p), std::move(f).value()).first;
    }
    if (auto s = WriteInitial(static_cast<int>(p), *it->second, buffers_[p]); !s.ok()) return s;
  }
  for (auto& [p, f] : initial_files_) {
    if (auto s = f->Sync(); !s.ok()) return s;
    written.insert(partition_names_[p]);
  }
  for (const auto& p : written) {
    if (auto s = env_.Rename(TempPath(dir_, p), PartitionPath(dir_, p)); !s.ok()) return s;
  }
  // Partitions of an earlier content that the new one leaves empty stay as
  // empty files (model.json may list them still; see RewritePartition).
  for (const auto& p : PartitionsOnDisk(env_, dir_)) {
    if (written.count(p)) continue;
    if (auto s = WriteFileAtomic(env_, PartitionPath(dir_, p), ""); !s.ok()) return s;
    written.insert(p);
  }
  if (auto s = env_.SyncDir(dir_); !s.ok()) return s;
  initial_files_.clear();
  committed_.clear();
  uncommitted_.clear();
  for (const auto& p : written) {
    const int pi = PartitionIndex(p);
    auto it = initial_crc_.find(pi);
    const auto [length, crc] =
        it != initial_crc_.end() ? it->second : std::pair<uint64_t, uint32_t>{0, 0};
    if (auto s = Remember(p, length, crc); !s.ok()) return s;
  }
  initial_crc_.clear();
  if (options_.append_only) {
    partitions_ = written;
    records_ = initial_written_;
  } else {
    std::swap(index_, initial_ids_);
    initial_ids_.clear();
    partitions_ = written;
    records_ = static_cast<int64_t>(index_.size());
  }
  result.created = records_;
  if (auto s = UpdateEntity({written.begin(), written.end()}, true, now); !s.ok()) return s;
  return result;
}

Result<BatchResult> LakeTableWriter::CommitAppend(double now) {
  BatchResult result;
  bool new_partition = false;
  for (size_t pi = 0; pi < buffers_.size(); ++pi) {
    const std::string& buf = buffers_[pi];
    if (buf.empty()) continue;
    const std::string& p = partition_names_[pi];
    auto f = env_.OpenWritable(PartitionPath(dir_, p), Env::WriteMode::kAppend);
    if (!f) return f.status();
    // Never glued onto bytes linkwatch did not commit (a record cut off by
    // hand since Begin checked).
    const auto known = committed_.find(p);
    const Written before = known != committed_.end() ? known->second : Written{};
    auto size = (*f)->Size();
    if (!size) return size.status();
    if (*size != before.length) {
      return Status::Break("partition_changed",
                           "lake partition " + PartitionPath(dir_, p) + " is " +
                               std::to_string(*size) + " bytes, not the " +
                               std::to_string(before.length) +
                               " bytes linkwatch committed (changed while a batch was written)");
    }
    if (auto s = (*f)->Append(buf); !s.ok()) return s;
    if (auto s = (*f)->Sync(); !s.ok()) return s;
    if (auto s = Remember(p, before.length + buf.size(), Crc32(before.crc, buf)); !s.ok()) {
      return s;
    }
    new_partition |= partitions_.insert(p).second;
  }
  if (new_partition) {
    if (auto s = env_.SyncDir(dir_); !s.ok()) return s;
    if (auto s = UpdateEntity({partitions_.begin(), partitions_.end()}, false, now); !s.ok()) {
      return s;
    }
  }
  records_ += created_ + updated_ + deleted_;
  result.created = created_;
  result.updated = updated_;
  result.deleted = deleted_;
  return result;
}

Result<BatchResult> LakeTableWriter::CommitInPlace(double now) {
  BatchResult result;
  if (pending_.empty()) return result;
  // Which partitions each change leaves and enters, and the order of the
  // renames (lake-format.md "Two modes"): every record's new copy becomes
  // visible before its old copy disappears, so a partition that gains a
  // record goes before the partitions that record leaves. `losers[g]`: the
  // partitions that wait for g; `waiting[l]`: how many partitions l waits
  // for. A batch touches a few partitions: plain maps do.
  std::map<int, std::vector<size_t>> adds;
  std::set<int> affected;
  std::map<int, std::set<int>> losers;
  std::map<int, int> waiting;
  std::set<int> loses_moved;  // partitions that moved records leave
  for (size_t i = 0; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    std::vector<int> copies;  // partitions holding a copy now
    if (const int old = index_.Find(p.id); old >= 0) {
      p.old_partition = old;
      copies.push_back(old);
    }
    if (auto extra = extra_partitions_.find(p.id); extra != extra_partitions_.end()) {
      copies.insert(copies.end(), extra->second.begin(), extra->second.end());
    }
    affected.insert(copies.begin(), copies.end());
    if (p.deleted) continue;
    adds[p.new_partition].push_back(i);
    affected.insert(p.new_partition);
    for (int from : copies) {
      if (from == p.new_partition) continue;
      loses_moved.insert(from);
      if (losers[p.new_partition].insert(from).second) ++waiting[from];
    }
  }
  bool partitions_changed = false;
  std::set<int> remaining = affected, gains_visible;
  // When the last rename that made a moved record's new copy visible
  // happened: a partition that loses moved records waits move_grace after it.
  std::optional<std::chrono::steady_clock::time_point> last_gain;
  while (!remaining.empty()) {
    int next = -1;
    bool gains_only = false;
    for (int pi : remaining) {
      if (waiting[pi] == 0) {
        next = pi;
        break;
      }
    }
    if (next < 0) {
      // Records move both ways (x: A -> B, y: B -> A): one partition of the
      // cycle first gets its new records while keeping those that leave it.
      for (int pi : remaining) {
        if (!gains_visible.count(pi) && !losers[pi].empty()) {
          next = pi;
          break;
        }
      }
      if (next < 0) return Status::Error("internal: no partition to replace next in " + dir_);
      gains_only = true;
    }
    if (!gains_only && loses_moved.count(next) && last_gain) {
      // see move_grace
      SystemClock::Instance().SleepFor(*last_gain + lake_.move_grace -
                                       std::chrono::steady_clock::now());
    }
    bool created = false;
    if (auto s = RewritePartition(next, gains_only, adds[next], created); !s.ok()) return s;
    if (!gains_only) remaining.erase(next);
    if (created) {
      // A new partition: model.json lists it (its file exists now) before
      // any partition its records leave is replaced, or a reader of the
      // old model.json would miss them.
      partitions_changed = true;
      if (!remaining.empty()) {
        if (auto s = env_.SyncDir(dir_); !s.ok()) return s;
        if (auto s = UpdateEntity({partitions_.begin(), partitions_.end()}, false, now); !s.ok()) {
          return s;
        }
        partitions_changed = false;
      }
    }
    if (gains_visible.insert(next).second) {
      for (int l : losers[next]) --waiting[l];
    }
    if (!losers[next].empty()) last_gain = std::chrono::steady_clock::now();
  }
  if (auto s = env_.SyncDir(dir_); !s.ok()) return s;
  for (const Pending& p : pending_) {
    extra_partitions_.erase(p.id);
    if (p.deleted) {
      if (p.old_partition >= 0) ++result.deleted;
      index_.Erase(p.id);
    } else {
      ++(p.old_partition >= 0 ? result.updated : result.created);
      index_.Put(p.id, p.new_partition);
    }
  }
  records_ = static_cast<int64_t>(index_.size());
  if (partitions_changed) {
    if (auto s = UpdateEntity({partitions_.begin(), partitions_.end()}, false, now); !s.ok()) {
      return s;
    }
  }
  return result;
}

Status LakeTableWriter::RewritePartition(int pi, bool gains_only, const std::vector<size_t>& adds,
                                         bool& partitions_changed) {
  const std::string& name = partition_names_[pi];
  const std::string path = PartitionPath(dir_, name);
  const bool pad = short_partitions_.count(name) > 0;
  // The old file is mapped, scanned for the Ids of this batch, and the runs
  // of records that stay are written straight from the mapping.
  std::optional<MappedFile> mapped;
  std::string_view old;
  if (partitions_.count(name)) {
    auto info = env_.Stat(path);
    if ((!info.ok() || !*info) && committed_.count(name)) {
      return MissingBreak(name, committed_[name].length);
    }
    auto m = env_.MapFile(path);
    if (!m) return m.status();
    mapped.emplace(std::move(m).value());
    old = mapped->view();
  }
  std::vector<std::string_view> pieces;
  std::vector<std::string> added;  // new lines, kept alive until written
  // The crc32 of the old content (checked against the committed one before
  // anything is written) and of the new one, in one pass over the old
  // bytes: a run of records that stays is summed once and combined into
  // both (crc32_combine), a dropped record into the old only, new bytes into
  // the new only.
  uint32_t old_crc = 0, new_crc = 0;
  uint64_t new_length = 0;
  auto keep = [&](std::string_view run) {
    const uint32_t c = Crc32(0, run);
    old_crc = static_cast<uint32_t>(crc32_combine(old_crc, c, static_cast<z_off_t>(run.size())));
    new_crc = static_cast<uint32_t>(crc32_combine(new_crc, c, static_cast<z_off_t>(run.size())));
    new_length += run.size();
    pieces.push_back(run);
  };
  auto leave = [&](std::string_view record) { old_crc = Crc32(old_crc, record); };
  auto add = [&](std::string_view piece) {
    new_crc = Crc32(new_crc, piece);
    new_length += piece.size();
    pieces.push_back(piece);
  };
  size_t run_start = 0;
  std::string scratch;
  std::string_view raw, id;
  for (size_t pos = 0; pos < old.size();) {
    const size_t end = RecordEnd(old, pos);
    const std::string_view record = old.substr(pos, end - pos);
    FieldAt(record, 0, raw, id, scratch);
    auto it = pending_by_id_.find(id);
    bool drop = false;
    if (it != pending_by_id_.end()) {
      Pending& p = pending_[it->second];
      const bool lands_here = !p.deleted && p.new_partition == pi;
      drop = lands_here || !gains_only;
      // A row updated in place keeps the time it first reached the lake.
      if (lands_here) {
        FieldAt(record, 1, raw, id, scratch);
        p.sink_created = std::string(raw);
      }
    }
    if (drop) {
      if (pos > run_start) keep(old.substr(run_start, pos - run_start));
      leave(record);
      run_start = end;
    } else if (pad) {
      const std::string_view line = WithoutLineEnd(record);
      const size_t n = FieldCount(line);
      if (n <= static_cast<size_t>(last_default_attr_)) {
        if (pos > run_start) keep(old.substr(run_start, pos - run_start));
        leave(record);
        add(line);
        add(pad_suffix_[n]);
        add("\n");
        run_start = end;
      }
    }
    pos = end;
  }
  const bool ends_open = !old.empty() && old.back() != '\n' && run_start < old.size();
  if (old.size() > run_start) keep(old.substr(run_start));
  if (ends_open) add("\n");
  // The partition was read anyway: it must hold what was committed before
  // records are taken from it.
  if (auto it = committed_.find(name); it != committed_.end() && partitions_.count(name)) {
    if (old.size() != it->second.length || old_crc != it->second.crc) {
      return ChangedBreak(name, old.size(), old_crc, it->second.length, it->second.crc);
    }
  }
  for (size_t i : adds) {
    const Pending& p = pending_[i];
    std::string line = p.head;
    line += ',';
    line += p.sink_created.empty() ? sink_now_ : p.sink_created;
    line += p.tail;
    added.push_back(std::move(line));
  }
  for (const auto& line : added) add(line);
  if (pieces.empty() && !partitions_.count(name)) return Status::Ok();
  const std::string tmp = TempPath(dir_, name);
  const uint64_t length = new_length;
  const uint32_t crc = new_crc;
  {
    auto f = env_.OpenWritable(tmp, Env::WriteMode::kCreateTruncate);
    if (!f) return f.status();
    if (auto s = (*f)->AppendPieces(pieces); !s.ok()) return s;
    if (auto s = (*f)->Sync(); !s.ok()) return s;
  }
  if (auto s = NoteUncommitted(name, length, crc); !s.ok()) return s;
  if (auto s = env_.Rename(tmp, path); !s.ok()) return s;
  if (auto s = Remember(name, length, crc); !s.ok()) return s;
  if (lake_.on_partition_replaced) lake_.on_partition_replaced(schema_.name, name, gains_only);
  if (!gains_only) short_partitions_.erase(name);
  partitions_changed |= partitions_.insert(name).second;
  return Status::Ok();
}

Result<SnapshotResult> LakeTableWriter::Snapshot(double now, int keep) {
  // Snapshot/<partition>_<yyyyMMddTHHmmssZ>.csv, each copied to a hidden
  // temporary and renamed, so a reader of Snapshot/ never sees half a copy.
  std::string stamp;
  lake::AppendIsoTime(stamp, now);  // 2026-01-01T00:00:00Z
  stamp.erase(
      std::remove_if(stamp.begin(), stamp.end(), [](char c) { return c == '-' || c == ':'; }),
      stamp.end());
  const std::string snap_dir = dir_ + "/Snapshot";
  if (auto s = CreateDirsDurably(env_, snap_dir); !s.ok()) return s;
  LakeDestination::Entity e;
  e.name = schema_.name + "_partitioned";
  e.attributes = attributes_;
  e.append_only = options_.append_only;
  e.partitioning = options_.partition;
  e.initial_sync_state = "Completed";
  for (const auto& p : partitions_) {
    const std::string name = p + "_" + stamp + ".csv";
    const std::string tmp = snap_dir + "/." + name + ".tmp";
    if (auto s = CopyFileSynced(env_, PartitionPath(dir_, p), tmp); !s.ok()) {
      return Status::Error("cannot copy " + PartitionPath(dir_, p) + ": " + s.message());
    }
    if (auto s = env_.Rename(tmp, snap_dir + "/" + name); !s.ok()) return s;
    e.partitions.push_back(p);
    e.locations.push_back(schema_.name + "/Snapshot/" + name);
  }
  if (auto s = env_.SyncDir(snap_dir); !s.ok()) return s;
  if (auto s = lake_.PutEntity(e); !s.ok()) return s;
  // Keep the newest `keep` snapshots (by their time stamp).
  std::set<std::string, std::greater<>> stamps;
  std::vector<std::pair<std::string, std::string>> files;  // (stamp, path)
  auto entries = env_.ListDir(snap_dir);
  for (const auto& f : entries.ok() ? *entries : std::vector<DirEntry>{}) {
    const std::string& n = f.name;
    const size_t us = n.rfind('_');
    if (n[0] == '.' || !n.ends_with(".csv") || us == std::string::npos) continue;
    files.push_back({n.substr(us + 1, n.size() - us - 5), snap_dir + "/" + n});
    stamps.insert(files.back().first);
  }
  std::set<std::string> kept;
  for (const auto& st : stamps) {
    if (static_cast<int>(kept.size()) >= std::max(keep, 1)) break;
    kept.insert(st);
  }
  bool pruned = false;
  for (const auto& [st, path] : files) {
    if (!kept.count(st)) pruned |= env_.RemoveFile(path).ok();
  }
  // A pruned snapshot must not come back after a power cut (readers list
  // Snapshot/ and would find more than `keep` of them).
  if (pruned) {
    if (auto s = env_.SyncDir(snap_dir); !s.ok()) return s;
  }
  SnapshotResult r;
  r.records = records_;
  r.max_version = max_version_;
  return r;
}

Status LakeTableWriter::UpdateEntity(const std::vector<std::string>& partitions, bool initial_done,
                                     double now) {
  LakeDestination::Entity e;
  if (auto existing = lake_.GetEntity(schema_.name)) e = *existing;
  e.name = schema_.name;
  e.attributes = attributes_;
  e.partitions = partitions;
  e.locations.clear();  // "<table>/<partition>.csv" for each
  e.append_only = options_.append_only;
  e.partitioning = options_.partition;
  if (initial_done) {
    e.initial_sync_state = "Completed";
    e.initial_sync_completed.clear();
    lake::AppendIsoTime(e.initial_sync_completed, now);
  } else if (e.initial_sync_state != "Completed") {
    e.initial_sync_state = "InProgress";
  }
  return lake_.PutEntity(e);
}
}  // namespace

LakeDestination::FileStamp StampOf(const FileInfo& info) {
  LakeDestination::FileStamp f;
  f.dev = info.dev;
  f.ino = info.ino;
  f.size = info.size;
  f.mtime_ns = info.mtime_ns;
  return f;
}

Result<std::unique_ptr<TableWriter>> OpenLakeTableWriter(LakeDestination& lake,
                                                         const TableSchema& schema,
                                                         const TableOptions& options,
                                                         const std::string& marker) {
  auto writer = std::make_unique<LakeTableWriter>(lake, schema, options);
  if (auto s = writer->Open(marker); !s.ok()) return s;
  return std::unique_ptr<TableWriter>(std::move(writer));
}

}  // namespace linkwatch::sync
