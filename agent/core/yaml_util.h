// Helpers for reading user YAML files with precise error positions. Used by
// the config loader, rule files and rule-test files. Not thread-safe (a
// Problems collector belongs to one loader).
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/problem.h"

namespace linkwatch {

// Parses `path`; a syntax error, a key repeated in one mapping (at the
// repeat's position) or an unreadable file throws InputError.
YAML::Node LoadYamlFile(const std::string& path);
// Parses text that came from `name` (for tests and fuzzing).
YAML::Node LoadYamlString(const std::string& text, const std::string& name);

// Adds a problem for every key of `map` not in `known`, suggesting the
// nearest known key. Returns false if `map` is not a mapping (also a problem).
bool CheckKeys(const YAML::Node& map, const std::vector<std::string>& known, Problems& problems,
               const std::string& what);

// Typed getters: on a wrong type add a problem and return nullopt.
std::optional<std::string> GetString(const YAML::Node& node, Problems& problems,
                                     const std::string& what);
std::optional<bool> GetBool(const YAML::Node& node, Problems& problems, const std::string& what);
std::optional<long long> GetInt(const YAML::Node& node, Problems& problems,
                                const std::string& what);
std::optional<Millis> GetDuration(const YAML::Node& node, Problems& problems,
                                  const std::string& what);
std::vector<std::string> GetStringList(const YAML::Node& node, Problems& problems,
                                       const std::string& what);

}  // namespace linkwatch
