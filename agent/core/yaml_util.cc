#include "agent/core/yaml_util.h"

#include <fstream>
#include <map>
#include <sstream>
#include <unordered_set>

#include "agent/core/time_format.h"

namespace linkwatch {

namespace {

// yaml-cpp keeps both entries of a repeated key (and lookups see the
// first), where YAML 1.2 and Prometheus's parser reject the document.
// Every mapping is checked once: an alias is the same node (same mark)
// as its anchor, so a document of nested aliases is not walked
// exponentially.
void FindDuplicateKeys(const YAML::Node& node, Problems& problems,
                       std::unordered_set<int>& visited) {
  if (!node.IsMap() && !node.IsSequence()) return;
  if (!visited.insert(node.Mark().pos).second) return;
  if (node.IsSequence()) {
    for (const auto& item : node) FindDuplicateKeys(item, problems, visited);
    return;
  }
  std::map<std::string, YAML::Mark> first;
  for (const auto& kv : node) {
    if (kv.first.IsScalar()) {
      const YAML::Mark mark = kv.first.Mark();
      auto [it, inserted] = first.emplace(kv.first.Scalar(), mark);
      if (!inserted) {
        problems.Add(mark, "duplicate key \"" + kv.first.Scalar() + "\" (first at line " +
                               std::to_string(it->second.line + 1) + ", column " +
                               std::to_string(it->second.column + 1) + ")");
      }
    }
    FindDuplicateKeys(kv.second, problems, visited);
  }
}

}  // namespace

YAML::Node LoadYamlString(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    Problems p(name);
    p.Add(e.mark, "YAML syntax error: " + e.msg);
    p.ThrowIfAny();
  }
  Problems p(name);
  std::unordered_set<int> visited;
  FindDuplicateKeys(root, p, visited);
  p.ThrowIfAny();
  return root;
}

YAML::Node LoadYamlFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Problems p(path);
    p.Add(0, 0, "cannot open file");
    p.ThrowIfAny();
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadYamlString(ss.str(), path);
}

bool CheckKeys(const YAML::Node& map, const std::vector<std::string>& known, Problems& problems,
               const std::string& what) {
  if (!map.IsMap()) {
    problems.Add(map, what + " must be a mapping");
    return false;
  }
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    bool ok = false;
    for (const auto& k : known) ok = ok || k == key;
    if (!ok) {
      std::string msg = "unknown key \"" + key + "\" in " + what;
      std::string near = NearestKey(key, known);
      if (!near.empty()) msg += " (did you mean \"" + near + "\"?)";
      problems.Add(kv.first, msg);
    }
  }
  return true;
}

std::optional<std::string> GetString(const YAML::Node& node, Problems& problems,
                                     const std::string& what) {
  if (!node.IsScalar()) {
    problems.Add(node, what + " must be a string");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<bool> GetBool(const YAML::Node& node, Problems& problems, const std::string& what) {
  bool v = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, v)) {
    problems.Add(node, what + " must be true or false");
    return std::nullopt;
  }
  return v;
}

std::optional<long long> GetInt(const YAML::Node& node, Problems& problems,
                                const std::string& what) {
  long long v = 0;
  if (!node.IsScalar() || !YAML::convert<long long>::decode(node, v)) {
    problems.Add(node, what + " must be an integer");
    return std::nullopt;
  }
  return v;
}

std::optional<Millis> GetDuration(const YAML::Node& node, Problems& problems,
                                  const std::string& what) {
  if (!node.IsScalar()) {
    problems.Add(node, what + " must be a duration such as 30s or 5m");
    return std::nullopt;
  }
  auto d = ParseDuration(node.Scalar());
  if (!d) {
    problems.Add(node, what + ": " + d.message());
    return std::nullopt;
  }
  return *d;
}

std::vector<std::string> GetStringList(const YAML::Node& node, Problems& problems,
                                       const std::string& what) {
  std::vector<std::string> out;
  if (!node.IsSequence()) {
    problems.Add(node, what + " must be a list of strings");
    return out;
  }
  for (const auto& item : node) {
    if (auto s = GetString(item, problems, what + " item")) out.push_back(*s);
  }
  return out;
}

}  // namespace linkwatch
