#include "agent/core/config.h"

#include <glob.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/core/listen_address.h"
#include "agent/core/yaml_util.h"

namespace linkwatch {
namespace {

bool IsName(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

bool HasGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

void ParseHttp(const YAML::Node& node, const std::string& dir, Problems& p, HttpConfig& out) {
  if (!CheckKeys(node, {"listen", "api_token", "read_timeout"}, p, "http")) return;
  if (node["listen"]) {
    if (auto s = GetString(node["listen"], p, "http.listen")) {
      // Checked as the server checks it at start, so that check-config
      // refuses what run would refuse.
      auto hp = ParseListenAddress(*s);
      Status host = hp.ok() ? CheckListenHost(hp->first) : Status::Ok();
      if (!hp.ok()) {
        p.Add(node["listen"], "http.listen: " + hp.message());
      } else if (!host.ok()) {
        p.Add(node["listen"], "http.listen \"" + *s + "\": " + host.message());
      } else {
        out.listen = *s;
      }
    }
  }
  if (node["api_token"])
    out.api_token = Secret::FromYaml(node["api_token"], dir, p, "http.api_token");
  if (node["read_timeout"]) {
    if (auto d = GetDuration(node["read_timeout"], p, "http.read_timeout")) out.read_timeout = *d;
  }
}

void ParseProfiles(const YAML::Node& node, const std::string& dir, const std::string& state_db,
                   const ConfigTypes& types, Problems& p, std::vector<ProfileConfig>& out) {
  if (!node.IsSequence()) {
    p.Add(node, "profiles must be a list");
    return;
  }
  std::set<std::string> names;
  // (resolved destination, profile) of the profiles before this one.
  std::vector<std::pair<std::filesystem::path, std::string>> destinations;
  for (const auto& prof : node) {
    if (!CheckKeys(prof,
                   {"name", "source", "destination", "sync_interval", "snapshot_interval",
                    "snapshots_to_keep", "tables"},
                   p, "profile")) {
      continue;
    }
    ProfileConfig pc;
    pc.base_dir = dir;
    if (!prof["name"]) {
      p.Add(prof, "profile needs a name");
    } else if (auto s = GetString(prof["name"], p, "profile name")) {
      if (!IsName(*s)) {
        p.Add(prof["name"],
              "profile name \"" + *s + "\" may only hold letters, digits, '-' and '_'");
      } else if (!names.insert(*s).second) {
        p.Add(prof["name"], "duplicate profile name \"" + *s + "\"");
      }
      pc.name = *s;
    }
    // The block's type and path here; the rest is its type's (the registry's
    // factory validates it).
    auto endpoint = [&](const char* key, const BlockTypes* registry, std::string& type,
                        std::string& path, YAML::Node& block) {
      const YAML::Node n = prof[key];
      if (!n) {
        p.Add(prof, std::string("profile ") + pc.name + " needs a " + key);
        return;
      }
      if (!n.IsMap()) {
        CheckKeys(n, EndpointBlockKeys(), p, key);  // says it must be a mapping
        return;
      }
      block.reset(n);
      bool known = false;
      if (!n["type"]) {
        p.Add(n, std::string(key) + " needs a type");
      } else if (auto t = GetString(n["type"], p, std::string(key) + ".type")) {
        known = registry == nullptr || registry->Has(*t);
        if (!known) {
          p.Add(n["type"], std::string("unknown ") + key + " type \"" + *t +
                               "\" (one of: " + JoinTypes(registry->Types()) + ")");
        }
        type = *t;
      }
      if (n["path"]) {
        if (auto s = GetString(n["path"], p, std::string(key) + ".path"))
          path = ResolvePath(dir, *s);
      }
      if (known && registry != nullptr) {
        registry->Check(type, n,
                        BlockContext{key, pc.name, path, dir, state_db, p, EndpointBlockKeys()});
      }
    };
    endpoint("source", types.sources, pc.source_type, pc.source_path, pc.source);
    endpoint("destination", types.destinations, pc.destination_type, pc.destination_path,
             pc.destination);
    // Two profiles writing one lake would overwrite each other's model.json,
    // and a lake inside another would show up there as a table folder.
    // Compared where the paths really lead, however they are written.
    if (!pc.destination_path.empty()) {
      const auto real = RealPlace(pc.destination_path);
      const std::string resolved =
          real == std::filesystem::path(pc.destination_path) ? "" : " (" + real.string() + ")";
      for (const auto& [other, other_name] : destinations) {
        if (PathContains(other, real) && PathContains(real, other)) {
          p.Add(prof["destination"],
                "profile " + pc.name + ": destination " + pc.destination_path + resolved +
                    " is already the destination of another profile, " + other_name);
        } else if (PathContains(other, real) || PathContains(real, other)) {
          p.Add(prof["destination"],
                "profile " + pc.name + ": destination " + pc.destination_path + resolved +
                    (PathContains(other, real) ? " lies inside" : " contains") +
                    " the destination of profile " + other_name + " (" + other.string() + ")");
        }
      }
      destinations.emplace_back(real, pc.name);
    }
    if (prof["sync_interval"]) {
      if (auto d = GetDuration(prof["sync_interval"], p, "sync_interval")) {
        if (d->count() < 100) {
          p.Add(prof["sync_interval"], "sync_interval must be at least 100ms");
        }
        pc.sync_interval = *d;
      }
    }
    if (prof["snapshot_interval"]) {
      if (auto d = GetDuration(prof["snapshot_interval"], p, "snapshot_interval")) {
        if (d->count() < 1000) {
          p.Add(prof["snapshot_interval"], "snapshot_interval must be at least 1s");
        }
        pc.snapshot_interval = *d;
      }
    }
    if (prof["snapshots_to_keep"]) {
      if (auto n = GetInt(prof["snapshots_to_keep"], p, "snapshots_to_keep")) {
        if (*n < 1 || *n > 100) {
          p.Add(prof["snapshots_to_keep"], "snapshots_to_keep must be between 1 and 100");
        }
        pc.snapshots_to_keep = static_cast<int>(*n);
      }
    }
    if (!prof["tables"] || !prof["tables"].IsSequence() || prof["tables"].size() == 0) {
      p.Add(prof["tables"] ? prof["tables"] : prof,
            "profile " + pc.name + " needs a list of tables");
    } else {
      std::set<std::string> tables;
      for (const auto& t : prof["tables"]) {
        TableConfig tc;
        if (t.IsScalar()) {
          tc.name = t.Scalar();
        } else if (CheckKeys(t, {"name", "append_only", "partition"}, p, "table")) {
          if (!t["name"]) {
            p.Add(t, "table needs a name");
          } else if (auto s = GetString(t["name"], p, "table name")) {
            tc.name = *s;
          }
          if (t["append_only"]) {
            if (auto b = GetBool(t["append_only"], p, "append_only")) tc.append_only = *b;
          }
          if (t["partition"]) {
            if (auto s = GetString(t["partition"], p, "partition")) {
              if (*s != "year" && *s != "month") {
                p.Add(t["partition"], "partition must be year or month");
              }
              tc.partition = *s;
            }
          }
          if (tc.append_only) tc.partition = "year";  // append_only forces year
        } else {
          continue;
        }
        if (!tc.name.empty() && !IsTableName(tc.name)) {
          p.Add(t, "profile " + pc.name + ": " + TableNameProblem(tc.name));
        } else if (!tc.name.empty() && !tables.insert(tc.name).second) {
          p.Add(t, "table " + tc.name + " is listed twice in profile " + pc.name);
        }
        pc.tables.push_back(tc);
      }
    }
    out.push_back(std::move(pc));
  }
}

void ParseWatch(const YAML::Node& node, const std::string& dir, const std::string& state_db,
                const BlockTypes* registry, Problems& p, WatchConfig& out) {
  if (!CheckKeys(node, {"interval", "sources", "rule_files", "source_unreachable_for"}, p,
                 "watch")) {
    return;
  }
  if (node["interval"]) {
    if (auto d = GetDuration(node["interval"], p, "watch.interval")) {
      if (d->count() <= 0) {
        p.Add(node["interval"], "watch.interval must be greater than 0");
      } else {
        out.interval = *d;
      }
    }
  }
  if (node["source_unreachable_for"]) {
    if (auto d = GetDuration(node["source_unreachable_for"], p, "watch.source_unreachable_for")) {
      out.source_unreachable_for = *d;
    }
  }
  if (node["sources"]) {
    if (!node["sources"].IsSequence()) {
      p.Add(node["sources"], "watch.sources must be a list");
    } else {
      std::set<std::string> names;
      for (const auto& s : node["sources"]) {
        if (!s.IsMap()) {
          CheckKeys(s, WatchSourceBlockKeys(), p, "watch source");  // must be a mapping
          continue;
        }
        WatchSourceConfig sc;
        sc.spec.reset(s);
        if (!s["name"]) {
          p.Add(s, "watch source needs a name");
        } else if (auto n = GetString(s["name"], p, "source name")) {
          if (!names.insert(*n).second) p.Add(s["name"], "duplicate watch source \"" + *n + "\"");
          sc.name = *n;
        }
        const std::string type_list =
            registry == nullptr ? "" : " (" + JoinTypes(registry->Types(), " or ") + ")";
        bool known = false;
        if (!s["type"]) {
          p.Add(s, "watch source needs a type" + type_list);
        } else if (auto t = GetString(s["type"], p, "source type")) {
          known = registry == nullptr || registry->Has(*t);
          if (!known) p.Add(s["type"], "unknown watch source type \"" + *t + "\"" + type_list);
          sc.type = *t;
        }
        if (s["path"]) {
          if (auto v = GetString(s["path"], p, "path")) sc.path = ResolvePath(dir, *v);
        }
        if (known && registry != nullptr) {
          registry->Check(sc.type, s,
                          BlockContext{"watch source", sc.name, sc.path, dir, state_db, p,
                                       WatchSourceBlockKeys()});
        }
        out.sources.push_back(std::move(sc));
      }
    }
  }
  if (out.sources.empty()) {
    // contract.md: the default is the state store, watched as `local`.
    out.sources.push_back(WatchSourceConfig{"local", "local", state_db, YAML::Node()});
  }
  if (node["rule_files"]) {
    for (const auto& item :
         node["rule_files"].IsSequence() ? node["rule_files"] : YAML::Node(YAML::NodeType::Null)) {
      auto pat = GetString(item, p, "watch.rule_files item");
      if (!pat) continue;
      std::string full = ResolvePath(dir, *pat);
      out.rule_file_patterns.push_back(full);
      if (HasGlob(full)) {
        glob_t g{};
        if (::glob(full.c_str(), 0, nullptr, &g) == 0) {
          for (size_t i = 0; i < g.gl_pathc; ++i) out.rule_files.push_back(g.gl_pathv[i]);
        }
        globfree(&g);
      } else if (!std::filesystem::exists(full)) {
        p.Add(item, "rule file " + full + " does not exist");
      } else {
        out.rule_files.push_back(full);
      }
    }
    if (!node["rule_files"].IsSequence())
      p.Add(node["rule_files"], "watch.rule_files must be a list");
  }
  std::sort(out.rule_files.begin(), out.rule_files.end());
  out.rule_files.erase(std::unique(out.rule_files.begin(), out.rule_files.end()),
                       out.rule_files.end());
}

}  // namespace

std::string ResolvePath(const std::string& base_dir, const std::string& p) {
  std::filesystem::path path(p);
  if (!path.is_absolute() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
  path = path.lexically_normal();
  // `lake/` and `lake` are one folder: without the trailing separator, so
  // that the path stored at link time and compared later is spelled once.
  if (!path.has_filename() && path.has_relative_path()) path = path.parent_path();
  return path.string();
}

std::filesystem::path RealPlace(const std::string& path) {
  std::error_code ec;
  auto real = std::filesystem::weakly_canonical(path, ec);
  return ec ? std::filesystem::path(path).lexically_normal() : real;
}

bool PathContains(const std::filesystem::path& outer, const std::filesystem::path& inner) {
  if (outer.empty() || inner.empty()) return false;
  auto o = outer.begin();
  auto i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *o != *i) return false;
  }
  return true;
}

bool IsTableName(std::string_view name) {
  if (name.empty() || name.size() > kMaxTableNameLength) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

std::string TableNameProblem(std::string_view name) {
  return "table name \"" + std::string(name) +
         "\" is not allowed: a table name becomes a lake folder and CSV file name, so it may "
         "hold only ASCII letters, digits and '_', must start with a letter or '_' and be at "
         "most " +
         std::to_string(kMaxTableNameLength) + " characters (as Dataverse logical names)";
}

const std::vector<std::string>& EndpointBlockKeys() {
  static const std::vector<std::string> kKeys{
      "type", "path", "url", "tenant_id", "client_id", "client_secret", "authority", "webhook_key"};
  return kKeys;
}

const std::vector<std::string>& WatchSourceBlockKeys() {
  static const std::vector<std::string> kKeys{
      "name", "type", "path", "url", "tenant_id", "client_id", "client_secret", "authority"};
  return kKeys;
}

Config ParseConfig(const std::string& text, const std::string& path, const ConfigTypes& types) {
  Config cfg;
  cfg.path = path;
  cfg.dir = std::filesystem::absolute(path).parent_path().string();
  YAML::Node root = LoadYamlString(text, path);
  Problems p(path);
  if (!root.IsMap()) {
    p.Add(root, "the config file must be a YAML mapping");
    p.ThrowIfAny();
  }
  CheckKeys(
      root,
      {"state_db", "log_level", "http", "profiles", "watch", "receivers", "route", "inhibit_rules"},
      p, "config");
  if (!root["state_db"]) {
    p.Add(root, "state_db is required (the SQLite file holding the state tables)");
  } else if (auto s = GetString(root["state_db"], p, "state_db")) {
    cfg.state_db = ResolvePath(cfg.dir, *s);
  }
  if (root["log_level"]) {
    if (auto s = GetString(root["log_level"], p, "log_level")) {
      static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error"};
      if (!kLevels.count(*s))
        p.Add(root["log_level"], "log_level must be trace, debug, info, warn or error");
      cfg.log_level = *s;
    }
  }
  if (root["http"]) ParseHttp(root["http"], cfg.dir, p, cfg.http);
  if (root["profiles"]) {
    ParseProfiles(root["profiles"], cfg.dir, cfg.state_db, types, p, cfg.profiles);
  }
  ParseWatch(root["watch"] ? root["watch"] : YAML::Node(YAML::NodeType::Map), cfg.dir, cfg.state_db,
             types.watch_sources, p, cfg.watch);
  cfg.receivers = root["receivers"];
  cfg.route = root["route"];
  cfg.inhibit_rules = root["inhibit_rules"];
  cfg.document = root;
  p.ThrowIfAny();
  return cfg;
}

Config LoadConfig(const std::string& path, const ConfigTypes& types) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError({Problem{path, 0, 0, "cannot open config file"}});
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path, types);
}

}  // namespace linkwatch
