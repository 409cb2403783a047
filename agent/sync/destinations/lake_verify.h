// Lake verification: reads a linkwatch lake folder the way a consumer would
// (model.json, then each entity's CSV partitions; lake-format.md), rebuilds
// each table's current state and reports every inconsistency with the file
// and line it was found at. It is deliberately independent of the lake
// writer (agent/sync/destinations/lake*.cc) and shares no code with it, so
// that it catches the writer's bugs. Optionally compares each table with a
// change-tracked source (`linkwatch lake verify --source`).
//
// Rules, per entity:
//   * in place (the default): each Id appears once across all partitions; a
//     second occurrence is a duplicate; live = distinct Ids; a delete row is
//     an inconsistency (a delete removes the record);
//   * append only (annotation linkwatch:AppendOnly = "true"): a second row
//     with the same (Id, versionnumber) is a duplicate; the state is, per Id,
//     the row with the highest versionnumber, less the Ids whose latest row
//     is a delete (counted as deleted).
// Every value must read as its attribute's dataType (guid, int64, double,
// decimal in plain notation within the precision/scale of its trait,
// boolean True/False, dateTime) and every field must be valid UTF-8; guid
// Ids that differ only by case are an inconsistency (string Ids may). The
// model itself must follow Microsoft's CDM model.json rules
// (cdm_model_check.h), partition locations must be absolute URIs that
// resolve to files inside the lake folder.
// Every row needs an Id and an integer versionnumber; IsDelete is True,
// False or empty; a row may be shorter than the attributes (columns added
// later), not longer. Each file uses one line end (CRLF or LF) and ends its
// last record with one (else the write was cut off). CSV files in a table
// folder (not Snapshot/) must be listed in model.json.
// Snapshot entities (`<table>_partitioned`) get the same checks, in the mode
// of their own annotation or else of their table, are marked `snapshot`, and
// are left out of the source comparison (a snapshot is older than the source).
//
// Plain functions over a folder, read through an Env (env.h) like the rest
// of the lake code; they keep no state and may run on any thread. The
// report owns everything it holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/env.h"
#include "agent/core/status.h"

namespace linkwatch::sync {

class Source;

struct LakeVerifyOptions {
  // A source to compare every table with: the file of a source of
  // `source_type` (a type of the source registry, source_registry.h; `lake
  // verify --source FILE` names a sqlite one); empty path: none.
  std::string source_type = "sqlite";
  std::string source_path;
  // Or a profile's whole source block (a `dataverse` source has no file):
  // compared when set and source_path is empty.
  std::optional<ProfileConfig> source_profile;
  // Keep each live row's fields in TableReport::state (tests); the CLI keeps
  // only versions, which a lake of millions of rows needs.
  bool keep_fields = true;
  // Messages of one kind kept per table (duplicates, bad rows, source
  // differences); the rest is summed up in one "... and N more" message.
  size_t max_messages_per_kind = 10;
  // Per entity, the lake Ids the writer left out as failed records
  // (lake-format.md; the state store's linkwatch_sync_failed_record): absent
  // from the lake by design, so not missing. Unknown (empty) when verifying a
  // folder alone.
  std::map<std::string, std::set<std::string>> failed_records;
};

// One row of a table's rebuilt state.
struct LakeRecord {
  int64_t version = 0;
  bool deleted = false;             // a delete row in an in-place table (an inconsistency)
  int file = -1;                    // index into TableReport::partitions
  int64_t line = 0;                 // line of the row in that file
  std::vector<std::string> fields;  // attribute order, padded to the attributes; keep_fields
  std::vector<bool> nulls;          // per field: NULL (an empty unquoted field, or padding)
  bool in_source = false;           // set by CompareWithSource
};

struct SourceDiff {
  int64_t missing_in_lake = 0;  // in the source, not live in the lake
  int64_t extra_in_lake = 0;    // live in the lake, not in the source
  int64_t version_differs = 0;  // lake versionnumber != source version
  int64_t values_differ = 0;    // values of live records that differ from the source's
  int64_t failed_records = 0;   // source rows absent as listed failed records (not a problem)
  bool compared = false;        // false when the table could not be read from the source
};

struct TableReport {
  std::string name;  // entity name
  bool append_only = false;
  bool snapshot = false;  // a `<table>_partitioned` entity
  std::vector<std::string> attributes;
  std::vector<std::string> data_types;  // per attribute, as model.json says
  std::vector<int> scales;              // per attribute: a decimal's scale, else -1
  // The partition files in model.json order, as named in messages: relative
  // to the lake folder when inside it.
  std::vector<std::string> partitions;
  int64_t rows = 0;  // CSV records read
  int64_t live = 0;
  int64_t duplicates = 0;
  int64_t deleted = 0;
  int64_t problems = 0;  // inconsistencies found in this table (messages may be fewer)
  SourceDiff source;
  // The rebuilt state: Id -> the live row (in-place tables: every distinct
  // Id, the row with the highest versionnumber).
  std::unordered_map<std::string, LakeRecord> state;

  bool ok() const { return problems == 0; }
  // "file:line" of a record of state.
  std::string Location(const LakeRecord& r) const;
};

struct LakeReport {
  std::string path;
  std::vector<TableReport> tables;  // model.json order
  // Every inconsistency, each naming the file (and line) it concerns.
  std::vector<std::string> problems;
  // Inconsistencies found, in tables and outside them (problems may hold
  // fewer messages: see max_messages_per_kind).
  int64_t problem_count = 0;

  bool ok() const { return problem_count == 0; }
  const TableReport* Find(const std::string& table) const;
};

// Reads the lake in `dir`. Inconsistencies of the lake (including a missing
// or unreadable model.json) are reported in LakeReport::problems; an error
// Status only when `dir` is not a folder or options.source_path cannot be
// opened as a source (bad usage).
Result<LakeReport> VerifyLake(Env& env, const std::string& dir,
                              const LakeVerifyOptions& options = {});
// The same through Env::Default() (the command, and tests reading a lake).
Result<LakeReport> VerifyLake(const std::string& dir, const LakeVerifyOptions& options = {});

// Compares every non-snapshot table of `report` with the same table of
// `source`: equal sets of Ids and, per Id, the lake's versionnumber equal to
// the source's version and (when the report kept fields) every value as
// lake-format.md says it reads back: NULL as NULL and "" as "", text with
// U+FFFD for invalid UTF-8, BLOBs as base64, datetimes to the 100 ns tick,
// booleans, doubles (NaN, Infinity), decimals at the declared scale. Ids
// render as the lake does: integer keys in decimal, text keys as they are,
// keys of guid Ids in lower case. A failed record (lake-format.md) listed in
// options.failed_records may be absent; any other absent row is reported as
// missing (the lake alone cannot tell why a record is absent). Differences
// are added to the report's problems (the first few per table) and to
// TableReport::source.
void CompareWithSource(Source& source, LakeReport& report, const LakeVerifyOptions& options);

// The JSON form printed by `linkwatch lake verify --json`:
// {"path", "tables": [...], "problems": [...], "ok"}.
std::string LakeReportJson(const LakeReport& report);
// The plain form: one line per table, then the problems, then a summary.
std::string LakeReportText(const LakeReport& report);

}  // namespace linkwatch::sync
