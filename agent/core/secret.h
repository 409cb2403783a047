// Secret: a value that must never reach logs, metrics, the status page or API
// answers. Written in YAML as a plain string, {env: NAME} or {file: PATH}
// (trailing newline trimmed). The value is resolved when the config is loaded;
// the reference (e.g. "env:TEAMS_URL") is kept for messages. Immutable after
// loading, so thread-safe to read.
#pragma once

#include <string>

namespace YAML {
class Node;
}

namespace linkwatch {

class Problems;

class Secret {
 public:
  Secret() = default;
  static Secret Plain(std::string value) { return Secret(std::move(value), "inline"); }

  // Reads a secret from YAML; adds a problem (and returns an empty secret)
  // when the form is wrong, the variable is unset or the file unreadable.
  // `base_dir` resolves relative file paths.
  static Secret FromYaml(const YAML::Node& node, const std::string& base_dir, Problems& problems,
                         const std::string& what);

  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  // "<secret from env:NAME>" — safe to print.
  std::string Describe() const { return "<secret from " + origin_ + ">"; }

 private:
  Secret(std::string value, std::string origin)
      : value_(std::move(value)), origin_(std::move(origin)) {}
  std::string value_;
  std::string origin_;
};

}  // namespace linkwatch
