// Problems found while loading user input (config, rule files, rule tests).
// Loading collects every problem it can find, then throws InputError once;
// main turns it into exit code 2 and prints one "file:line:column: message"
// line per problem. Lines and columns are 1-based.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace YAML {
class Node;
class Mark;
}  // namespace YAML

namespace linkwatch {

struct Problem {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;

  std::string ToString() const;
};

class InputError : public std::runtime_error {
 public:
  explicit InputError(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

// Collects problems for one file; yaml-cpp marks are 0-based.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void Add(const YAML::Node& at, std::string message);
  void Add(const YAML::Mark& at, std::string message);
  void Add(int line, int column, std::string message);
  void Append(const std::vector<Problem>& more);
  bool empty() const { return list_.empty(); }
  const std::vector<Problem>& list() const { return list_; }
  const std::string& file() const { return file_; }
  // Throws InputError if any problem was added.
  void ThrowIfAny() const;

 private:
  std::string file_;
  std::vector<Problem> list_;
};

// The known key nearest to `key` by edit distance, or "" if none is close.
std::string NearestKey(const std::string& key, const std::vector<std::string>& known);

}  // namespace linkwatch
