#include "agent/core/typed_block.h"

#include <yaml-cpp/yaml.h>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"

namespace linkwatch {

bool BlockContext::CheckKeys(const YAML::Node& spec, std::vector<std::string> known) const {
  if (!spec || spec.IsNull()) return true;
  for (const auto& k : common_keys) known.push_back(k);
  return linkwatch::CheckKeys(spec, known, problems, what);
}

bool BlockContext::NeedsPath(const YAML::Node& spec) const {
  if (!path.empty()) return true;
  if (!spec || !spec.IsMap() || !spec["path"]) problems.Add(spec, what + " needs a path");
  return false;
}

std::string JoinTypes(const std::vector<std::string>& types, std::string_view last) {
  std::string out;
  for (size_t i = 0; i < types.size(); ++i) {
    if (i > 0) out += i + 1 == types.size() ? std::string(last) : std::string(", ");
    out += types[i];
  }
  return out;
}

std::string ProblemMessages(const Problems& problems) {
  std::string out;
  for (const auto& p : problems.list()) out += (out.empty() ? "" : "; ") + p.message;
  return out;
}

}  // namespace linkwatch
