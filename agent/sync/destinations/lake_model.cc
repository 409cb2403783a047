#include "agent/sync/destinations/lake_model.h"

#include "agent/core/files.h"
#include "agent/sync/destinations/cdm_model_check.h"
#include "agent/sync/destinations/lake_format.h"
#include "agent/sync/destinations/lake_location.h"

namespace linkwatch::sync::lake {
using nlohmann::json;

namespace {

std::string GranularityName(Partitioning p) { return p == Partitioning::kMonth ? "Month" : "Year"; }

json AnnotationsOf(const Entity& e) {
  json a = json::array();
  a.push_back(
      {{"name", "Athena:PartitionGranularity"}, {"value", GranularityName(e.partitioning)}});
  a.push_back({{"name", "Athena:InitialSyncState"}, {"value", e.initial_sync_state}});
  if (!e.initial_sync_completed.empty()) {
    a.push_back(
        {{"name", "Athena:InitialSyncDataCompletedTime"}, {"value", e.initial_sync_completed}});
  }
  if (e.append_only) a.push_back({{"name", "linkwatch:AppendOnly"}, {"value", "true"}});
  return a;
}

// --- AttributeMetadata ------------------------------------------------------

struct AttributeKind {
  const char* type;
  int code;
};
AttributeKind KindOf(const std::string& cdm_type) {
  if (cdm_type == "guid") return {"Uniqueidentifier", 15};
  if (cdm_type == "int64") return {"BigInt", 18};
  if (cdm_type == "int32") return {"Integer", 5};
  if (cdm_type == "double") return {"Double", 4};
  if (cdm_type == "decimal") return {"Decimal", 3};
  if (cdm_type == "boolean") return {"Boolean", 0};
  if (cdm_type == "dateTime" || cdm_type == "dateTimeOffset") return {"DateTime", 2};
  return {"String", 14};
}

}  // namespace

// A partition's location in model.json: the absolute `file:` URI of a
// location relative to the lake folder `root`; an absolute URI as it is.
std::string AbsoluteLocation(const std::string& root, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  return lake::FileUri(root + "/" + location);
}

json EntityJson(const Entity& e, const std::string& root) {
  json partitions = json::array();
  for (size_t i = 0; i < e.partitions.size(); ++i) {
    const std::string& p = e.partitions[i];
    const std::string relative = i < e.locations.size() && !e.locations[i].empty()
                                     ? e.locations[i]
                                     : e.name + "/" + p + ".csv";
    partitions.push_back({{"name", p}, {"location", AbsoluteLocation(root, relative)}});
  }
  return {{"$type", "LocalEntity"},     {"name", e.name},
          {"description", e.name},      {"annotations", AnnotationsOf(e)},
          {"attributes", e.attributes}, {"partitions", partitions}};
}

// Reads a managed entity back; nullopt for anything that does not look like
// one of ours (kept as foreign).
// Locations are read back relative to the lake folder `root` when they lie
// in it, whether written as absolute URIs (now) or relative paths (before).
std::optional<Entity> ParseEntity(const json& j, const std::string& root) {
  if (!j.is_object() || j.value("$type", "") != "LocalEntity" || !j.contains("name") ||
      !j["name"].is_string() || !j.contains("attributes") || !j["attributes"].is_array()) {
    return std::nullopt;
  }
  Entity e;
  e.name = j["name"].get<std::string>();
  e.attributes = j["attributes"];
  if (j.contains("annotations") && j["annotations"].is_array()) {
    for (const auto& a : j["annotations"]) {
      if (!a.is_object() || !a.contains("name") || !a.contains("value") ||
          !a["value"].is_string()) {
        continue;
      }
      const std::string name = a["name"].is_string() ? a["name"].get<std::string>() : "";
      const std::string value = a["value"].get<std::string>();
      if (name == "Athena:PartitionGranularity") {
        e.partitioning = value == "Month" ? Partitioning::kMonth : Partitioning::kYear;
      } else if (name == "Athena:InitialSyncState") {
        e.initial_sync_state = value;
      } else if (name == "Athena:InitialSyncDataCompletedTime") {
        e.initial_sync_completed = value;
      } else if (name == "linkwatch:AppendOnly") {
        e.append_only = value == "true";
      }
    }
  }
  if (j.contains("partitions") && j["partitions"].is_array()) {
    for (const auto& p : j["partitions"]) {
      if (p.is_object() && p.contains("name") && p["name"].is_string()) {
        e.partitions.push_back(p["name"].get<std::string>());
        std::string location = p.contains("location") && p["location"].is_string()
                                   ? p["location"].get<std::string>()
                                   : e.name + "/" + e.partitions.back() + ".csv";
        if (auto path = lake::PathOfFileUri(location); path && path->starts_with(root + "/")) {
          location = path->substr(root.size() + 1);
        }
        e.locations.push_back(std::move(location));
      }
    }
  }
  return e;
}

namespace {

// Dataverse's AttributeTypeCode of its AttributeType names.
std::optional<int> DataverseTypeCode(std::string_view type) {
  static constexpr std::pair<std::string_view, int> kCodes[] = {
      {"Boolean", 0}, {"Customer", 1},   {"DateTime", 2},
      {"Decimal", 3}, {"Double", 4},     {"Integer", 5},
      {"Lookup", 6},  {"Memo", 7},       {"Money", 8},
      {"Owner", 9},   {"Picklist", 11},  {"State", 12},
      {"Status", 13}, {"String", 14},    {"Uniqueidentifier", 15},
      {"BigInt", 18}, {"EntityName", 20}};
  for (const auto& [name, code] : kCodes) {
    if (name == type) return code;
  }
  return std::nullopt;
}

// Calls fn(file index, fields) for each metadata record of the columns.
template <typename F>
void ForEachChoiceRecord(const std::string& table, const std::vector<SourceColumn>& columns, F fn) {
  using Choice = ColumnMetadata::Choice;
  for (const auto& c : columns) {
    const ColumnMetadata& m = c.metadata;
    for (const auto& o : m.options) {
      const std::string value = std::to_string(o.value), lang = std::to_string(o.language);
      switch (m.choice) {
        case Choice::kPicklist:
          if (m.option_set.empty()) {
            fn(0, std::vector<std::string>{table, c.name, value, "False", lang, o.label});
          } else {
            fn(1, std::vector<std::string>{c.name, value, "False", lang, o.label, m.option_set,
                                           table});
          }
          break;
        case Choice::kState:
          fn(2, std::vector<std::string>{table, value, "False", lang, o.label});
          break;
        case Choice::kStatus:
          fn(3, std::vector<std::string>{table, std::to_string(o.state), value, "False", lang,
                                         o.label});
          break;
        case Choice::kNone:
          break;
      }
    }
    for (const auto& t : m.targets) {
      fn(4, std::vector<std::string>{table, c.name, t.table, t.attribute});
    }
  }
}

}  // namespace

ChoiceRows ChoiceRowsOf(const std::string& table, const std::vector<SourceColumn>& columns) {
  ChoiceRows rows;
  ForEachChoiceRecord(table, columns, [&](size_t file, const std::vector<std::string>& fields) {
    lake::AppendCsvRecord(rows[file], fields);
  });
  return rows;
}

Status WriteEntityMetadata(Env& env, const std::string& lake, const std::string& table,
                           const json& attributes, const std::vector<SourceColumn>& columns) {
  json meta = {{"OptionSetMetadata", json::array()}, {"GlobalOptionSetMetadata", json::array()},
               {"StateMetadata", json::array()},     {"StatusMetadata", json::array()},
               {"TargetMetadata", json::array()},    {"AttributeMetadata", json::array()}};
  static constexpr const char* kArrays[] = {"OptionSetMetadata", "GlobalOptionSetMetadata",
                                            "StateMetadata", "StatusMetadata", "TargetMetadata"};
  static const std::vector<std::vector<const char*>> kFields = {
      {"EntityName", "OptionSetName", "Option", "IsUserLocalizedLabel",
       "LocalizedLabelLanguageCode", "LocalizedLabel"},
      {"OptionSetName", "Option", "IsUserLocalizedLabel", "LocalizedLabelLanguageCode",
       "LocalizedLabel", "GlobalOptionSetName", "EntityName"},
      {"EntityName", "State", "IsUserLocalizedLabel", "LocalizedLabelLanguageCode",
       "LocalizedLabel"},
      {"EntityName", "State", "Status", "IsUserLocalizedLabel", "LocalizedLabelLanguageCode",
       "LocalizedLabel"},
      {"EntityName", "AttributeName", "ReferencedEntity", "ReferencedAttribute"}};
  ForEachChoiceRecord(table, columns, [&](size_t file, const std::vector<std::string>& fields) {
    json record = json::object();
    for (size_t i = 0; i < fields.size(); ++i) record[kFields[file][i]] = fields[i];
    meta[kArrays[file]].push_back(std::move(record));
  });
  std::map<std::string, const SourceColumn*> by_name;
  for (const auto& c : columns) by_name[c.name] = &c;
  int n = 0;
  for (const auto& a : attributes) {
    const std::string type = a.value("dataType", "string");
    AttributeKind k = KindOf(type);
    auto column = by_name.find(a.value("name", ""));
    const SourceColumn* source = column == by_name.end() ? nullptr : column->second;
    // A Dataverse source's own type (Picklist, Money, Lookup, ...).
    if (source != nullptr) {
      if (auto code = DataverseTypeCode(source->declared_type)) {
        k = {source->declared_type.c_str(), *code};
      }
    }
    // A decimal's Precision agrees with its is.dataFormat.numeric.shaped trait.
    json precision = nullptr;
    if (type == "decimal" && a.contains("cdm:traits") && a["cdm:traits"].is_array()) {
      for (const auto& t : a["cdm:traits"]) {
        if (!t.is_object() || t.value("traitReference", "") != "is.dataFormat.numeric.shaped" ||
            !t.contains("arguments") || !t["arguments"].is_array()) {
          continue;
        }
        for (const auto& arg : t["arguments"]) {
          if (arg.is_object() && arg.value("name", "") == "precision") precision = arg["value"];
        }
      }
    }
    meta["AttributeMetadata"].push_back(
        {{"EntityName", table},
         {"AttributeName", a.value("name", "")},
         {"AttributeType", k.type},
         {"AttributeTypeCode", k.code},
         {"Version", 1},
         {"Timestamp", ""},
         {"MetadataId", table + "-" + std::to_string(n++)},
         {"Precision", source != nullptr && source->metadata.precision >= 0
                           ? json(source->metadata.precision)
                           : precision},
         {"MaxLength", source != nullptr && source->metadata.max_length >= 0
                           ? source->metadata.max_length
                           : a.value("maxLength", -1)}});
  }
  const std::string dir = lake + "/" + kMetadataFolder;
  if (auto s = CreateDirsDurably(env, dir); !s.ok()) return s;
  return WriteFileAtomic(env, dir + "/" + table + "-EntityMetadata.json", meta.dump(2));
}

// lake-format.md "model.json": every decimal attribute carries
// is.dataFormat.numeric.shaped with its precision and scale. Replaces that
// trait (keeping any other) so that an older lake's attribute is upgraded.
void ShapeDecimal(json& attribute, int precision, int scale) {
  constexpr const char* kShaped = "is.dataFormat.numeric.shaped";
  json traits = json::array();
  if (attribute.contains("cdm:traits") && attribute["cdm:traits"].is_array()) {
    for (const auto& t : attribute["cdm:traits"]) {
      if (!t.is_object() || t.value("traitReference", "") != kShaped) traits.push_back(t);
    }
  }
  json arguments = json::array();
  arguments.push_back(json{{"name", "precision"}, {"value", precision}});
  arguments.push_back(json{{"name", "scale"}, {"value", scale}});
  traits.push_back(json{{"traitReference", kShaped}, {"arguments", std::move(arguments)}});
  attribute["cdm:traits"] = std::move(traits);
}

// The precision and scale an attribute's trait declares, if it has one.
std::optional<std::pair<int, int>> ShapeOf(const json& attribute) {
  if (!attribute.contains("cdm:traits") || !attribute["cdm:traits"].is_array()) return std::nullopt;
  for (const auto& t : attribute["cdm:traits"]) {
    if (!t.is_object() || t.value("traitReference", "") != "is.dataFormat.numeric.shaped" ||
        !t.contains("arguments") || !t["arguments"].is_array()) {
      continue;
    }
    int precision = -1, scale = -1;
    for (const auto& a : t["arguments"]) {
      if (!a.is_object() || !a.contains("value") || !a["value"].is_number_integer()) continue;
      if (a.value("name", "") == "precision") precision = a["value"].get<int>();
      if (a.value("name", "") == "scale") scale = a["value"].get<int>();
    }
    if (precision > 0 && scale >= 0) return std::make_pair(precision, scale);
  }
  return std::nullopt;
}

// What makes model.json unusable, "" when nothing does. Always: valid JSON,
// an object with an "entities" array of objects. With `managed` (when the
// file changed behind linkwatch's back): the model with only the entities
// linkwatch writes must also follow the CDM rules (cdm_model_check.h), as
// linkwatch wrote them; other writers' entities are not judged.
std::string ModelProblem(const std::string& text, const std::set<std::string>* managed,
                         json& parsed) {
  parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return "not valid JSON";
  if (!parsed.is_object() || !parsed.contains("entities") || !parsed["entities"].is_array()) {
    return "not a CDM manifest (no \"entities\" array)";
  }
  for (const auto& e : parsed["entities"]) {
    if (!e.is_object()) return "not a CDM manifest (an entity that is not an object)";
  }
  if (managed == nullptr) return "";
  json ours = parsed;
  ours["entities"] = json::array();
  for (const auto& e : parsed["entities"]) {
    if (e.contains("name") && e["name"].is_string() &&
        managed->count(e["name"].get<std::string>())) {
      ours["entities"].push_back(e);
    }
  }
  const std::vector<std::string> problems = CheckCdmModel(ours);
  if (problems.empty()) return "";
  std::string out = "not a valid CDM model: " + problems.front();
  if (problems.size() > 1) out += " (and " + std::to_string(problems.size() - 1) + " more)";
  return out;
}

}  // namespace linkwatch::sync::lake
