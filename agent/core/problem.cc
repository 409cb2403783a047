#include "agent/core/problem.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace linkwatch {

std::string Problem::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out + ": " + message;
}

static std::string Join(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += "\n";
    out += p.ToString();
  }
  return out;
}

InputError::InputError(std::vector<Problem> problems)
    : std::runtime_error(Join(problems)), problems_(std::move(problems)) {}

void Problems::Add(const YAML::Node& at, std::string message) {
  Add(at.Mark(), std::move(message));
}

void Problems::Add(const YAML::Mark& at, std::string message) {
  if (at.is_null()) {
    Add(0, 0, std::move(message));
  } else {
    Add(at.line + 1, at.column + 1, std::move(message));
  }
}

void Problems::Add(int line, int column, std::string message) {
  list_.push_back(Problem{file_, line, column, std::move(message)});
}

void Problems::Append(const std::vector<Problem>& more) {
  list_.insert(list_.end(), more.begin(), more.end());
}

void Problems::ThrowIfAny() const {
  if (!list_.empty()) throw InputError(list_);
}

std::string NearestKey(const std::string& key, const std::vector<std::string>& known) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = std::max<size_t>(3, key.size() / 3) + 1;
  for (const auto& k : known) {
    size_t d = distance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

}  // namespace linkwatch
