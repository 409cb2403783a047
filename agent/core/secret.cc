#include "agent/core/secret.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/core/problem.h"

namespace linkwatch {

Secret Secret::FromYaml(const YAML::Node& node, const std::string& base_dir, Problems& problems,
                        const std::string& what) {
  if (node.IsScalar()) return Secret(node.Scalar(), "inline");
  if (!node.IsMap() || node.size() != 1) {
    problems.Add(node, what + " must be a string, {env: NAME} or {file: PATH}");
    return {};
  }
  if (node["env"]) {
    const std::string name = node["env"].Scalar();
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) {
      problems.Add(node["env"], what + ": environment variable " + name + " is not set");
      return {};
    }
    return Secret(v, "env:" + name);
  }
  if (node["file"]) {
    std::filesystem::path p = node["file"].Scalar();
    if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      problems.Add(node["file"], what + ": cannot read secret file " + p.string());
      return {};
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string v = ss.str();
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    return Secret(std::move(v), "file:" + p.string());
  }
  problems.Add(node, what + " must be a string, {env: NAME} or {file: PATH}");
  return {};
}

}  // namespace linkwatch
