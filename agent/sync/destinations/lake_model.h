// model.json and the metadata files beside it (lake-format.md "model.json"):
// the entity of one table as linkwatch writes it (Entity), its JSON form and
// the way back, the check that a model.json read from disk is usable
// (ModelProblem), the decimal shape trait, and
// Microsoft.Athena.TrickleFeedService/<table>-EntityMetadata.json.
// LakeDestination owns model.json and serialises its writes; the table
// writer asks it for and gives it entities. Pure functions, except
// WriteEntityMetadata's file write; thread-safe.
#pragma once

#include <array>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/core/env.h"
#include "agent/core/status.h"
#include "agent/sync/destination.h"

namespace linkwatch::sync::lake {

inline constexpr const char* kMetadataFolder = "Microsoft.Athena.TrickleFeedService";
inline constexpr const char* kOptionsetFolder = "OptionsetMetadata";
inline constexpr const char* kOptionsetFiles[] = {
    "OptionsetMetadata.csv", "GlobalOptionsetMetadata.csv", "StateMetadata.csv",
    "StatusMetadata.csv", "TargetMetadata.csv"};

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

// A partition's location in model.json: the absolute `file:` URI of a
// location relative to the lake folder `root`; an absolute URI as it is.
std::string AbsoluteLocation(const std::string& root, const std::string& location);

// An entity as model.json holds it, locations as absolute URIs under `root`.
nlohmann::json EntityJson(const Entity& e, const std::string& root);

// Reads a managed entity back; nullopt for anything that does not look like
// one of ours (kept as foreign). Locations are read back relative to the
// lake folder `root` when they lie in it.
std::optional<Entity> ParseEntity(const nlohmann::json& j, const std::string& root);

// One table's records in each OptionsetMetadata/*.csv file (indexed like
// kOptionsetFiles), each a complete CSV record ending in '\n'.
using ChoiceRows = std::array<std::string, std::size(kOptionsetFiles)>;
// Which field of each file's records names the table (EntityName).
inline constexpr size_t kChoiceEntityField[] = {0, 6, 0, 0, 0};

// The records of `table`'s choices (Picklist labels in OptionsetMetadata or,
// for a global option set, GlobalOptionsetMetadata; State and Status labels)
// and lookups (TargetMetadata) from its columns' metadata.
ChoiceRows ChoiceRowsOf(const std::string& table, const std::vector<SourceColumn>& columns);

// Writes <lake>/Microsoft.Athena.TrickleFeedService/<table>-EntityMetadata.json
// atomically: AttributeMetadata of the table's attributes (types, precision
// and length from `columns`' metadata when the source has it), and the
// choices and targets of `columns` (the same as ChoiceRowsOf).
Status WriteEntityMetadata(Env& env, const std::string& lake, const std::string& table,
                           const nlohmann::json& attributes,
                           const std::vector<SourceColumn>& columns = {});

// Gives a decimal attribute its is.dataFormat.numeric.shaped trait
// (replacing an older one, keeping any other trait).
void ShapeDecimal(nlohmann::json& attribute, int precision, int scale);

// The precision and scale an attribute's trait declares, if it has one.
std::optional<std::pair<int, int>> ShapeOf(const nlohmann::json& attribute);

// What makes model.json's `text` unusable, "" when nothing does; `parsed`
// gets the parsed JSON. With `managed`, the entities of those names must
// also follow the CDM rules.
std::string ModelProblem(const std::string& text, const std::set<std::string>* managed,
                         nlohmann::json& parsed);

}  // namespace linkwatch::sync::lake
