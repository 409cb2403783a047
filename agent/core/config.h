// Config: the agent's config file (contract.md section 3) as plain structs.
// LoadConfig reads and validates everything this layer knows (state_db, http,
// profiles, watch) and keeps `receivers`, `route` and `inhibit_rules` as YAML
// nodes: the notifiers library validates those (each integration owns its
// keys), so the app calls both and reports every problem together. The
// blocks keyed by a YAML `type` (a profile's source and destination, a watch
// source) are validated by the registries of their kinds, handed in as
// ConfigTypes (typed_block.h): this layer knows no type names.
// Relative paths are resolved against the config file's folder.
// Immutable after loading; safe to share read-only between threads.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/problem.h"
#include "agent/core/secret.h"
#include "agent/core/typed_block.h"

namespace linkwatch {

struct HttpConfig {
  std::string listen = "127.0.0.1:9464";
  Secret api_token;  // empty: mutating API calls are refused
  // Slow or idle clients are cut off after this long.
  Millis read_timeout{30000};
};

struct WatchSourceConfig {
  std::string name;
  std::string type;  // a key of the watch source registry (local, dataverse)
  std::string path;  // the block's `path`, resolved; "" when absent
  YAML::Node spec;   // the block, for the registry's factory of `type`
};

struct WatchConfig {
  Millis interval{15000};
  std::vector<WatchSourceConfig> sources;
  std::vector<std::string> rule_file_patterns;  // as written (resolved against the config folder)
  std::vector<std::string> rule_files;          // patterns expanded, sorted
  Millis source_unreachable_for{60000};
};

struct TableConfig {
  std::string name;
  bool append_only = false;
  std::string partition = "year";  // year | month
};

struct ProfileConfig {
  std::string name;
  // `type` and `path` (resolved; "" when absent) of the source and
  // destination blocks; the blocks themselves go to the factories of the
  // source and destination registries (a null node for a ProfileConfig
  // built in code).
  std::string source_type, source_path;
  std::string destination_type, destination_path;
  YAML::Node source, destination;
  std::string base_dir;  // the config file's folder: the blocks' relative paths resolve here
  Millis sync_interval{1000};
  Millis snapshot_interval{3600000};
  int snapshots_to_keep = 5;
  std::vector<TableConfig> tables;
};

struct Config {
  std::string path;  // the config file
  std::string dir;   // its folder
  std::string state_db;
  std::string log_level = "info";
  HttpConfig http;
  std::vector<ProfileConfig> profiles;
  WatchConfig watch;
  YAML::Node receivers;      // validated by notifiers::ParseReceivers
  YAML::Node route;          // validated by notifiers::ParseRoute
  YAML::Node inhibit_rules;  // reserved for inhibition (later issue)
  // The whole document, so that checks made after loading (the state store
  // file, the watched files) report the position of their key.
  YAML::Node document;
};

// Throws InputError listing every problem (file:line:column). `types`
// validates the typed blocks; the binary passes its builtin registries.
Config LoadConfig(const std::string& path, const ConfigTypes& types = {});
// Same, from text (tests, fuzzing); `path` names the file and its folder.
Config ParseConfig(const std::string& text, const std::string& path, const ConfigTypes& types = {});

// The keys every profile source or destination block accepts besides its
// type's own: type and path, and the keys that blocks of any type were
// accepted with before each type validated its own block (kept, so that
// configs that loaded before still load).
const std::vector<std::string>& EndpointBlockKeys();
// The same for a watch source block.
const std::vector<std::string>& WatchSourceBlockKeys();

// Resolves `p` against `base_dir` unless absolute; normalized, without a
// trailing separator.
std::string ResolvePath(const std::string& base_dir, const std::string& p);

// Where a path really leads: symlinks resolved for the part that exists
// (weakly_canonical), so that `lake`, `lake/`, `./lake` and a symlink to it
// compare equal. The path as written (normalized) when the file system
// cannot say (a permission error on a parent).
std::filesystem::path RealPlace(const std::string& path);
// Whether `inner` is `outer` or lies inside it, component by component
// (/data/lake2 is not inside /data/lake); false for an empty path.
bool PathContains(const std::filesystem::path& outer, const std::filesystem::path& inner);

// Whether `name` may be a synced table's name. It becomes a lake folder, a
// CSV file name and model.json entity name, and is looked up as a SQLite
// identifier, so only what all of them carry safely: ASCII letters, digits
// and '_', starting with a letter or '_' (Dataverse logical names are
// [a-z0-9_]); no '.', '/', '..', spaces or quotes. The config's `tables`,
// `link` and `tables add` all check it.
inline constexpr size_t kMaxTableNameLength = 128;
bool IsTableName(std::string_view name);
// The sentence saying why `name` is refused (names the table and the rule).
std::string TableNameProblem(std::string_view name);

}  // namespace linkwatch
