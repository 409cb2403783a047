// CDM model.json rules: checks a lake's parsed model.json against the rules
// of Microsoft's published CDM model.json schema, written here as the
// project's own check (the rules are listed below and in docs/sync.md,
// "lake verify"), plus the rules lake-format.md adds for readers of
// Synapse Link lakes (absolute partition URIs, the precision/scale trait on
// every decimal, the shape of cdm:traits).
//
// Schema rules checked: required fields at each level (model: name, version,
// entities; entity: $type, name; LocalEntity: attributes; ReferenceEntity:
// source, modelId; attribute: name, dataType; partition: name; annotation:
// name; referenceModel: id, location; relationship ends: entityName,
// attributeName); names of 1..256 characters without leading or trailing
// white space (entity names also without '.' or '"'); descriptions of at most
// 4000 characters; version "1.0"; $type values; the dataType enumeration;
// annotation values as strings; isHidden as a boolean; CsvFormatSettings;
// locations as absolute URIs (RFC 3986).
//
// Used by lake verify (lake_verify.h); shares nothing with the lake writer.
// A plain function over a parsed document: no state, any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace linkwatch::sync {

// Every rule `model` breaks, each message starting "model.json: " and naming
// the path of the offending value (e.g. `entities[0] (account): attributes[3]
// (amount): ...`). Empty when the model follows every rule.
std::vector<std::string> CheckCdmModel(const nlohmann::json& model);

// True when `s` is an absolute URI (RFC 3986: a scheme, ':', then only URI
// characters, non-ASCII and spaces percent-encoded).
bool IsAbsoluteUri(std::string_view s);

// The dataTypes the CDM model.json schema allows.
bool IsCdmDataType(std::string_view type);

}  // namespace linkwatch::sync
