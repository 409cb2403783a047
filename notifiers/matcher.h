// Matcher: Alertmanager label matchers (`label="v"`, `label!="v"`,
// `label=~"re"`, `label!~"re"`; values may be unquoted; regexes are anchored
// at both ends, as Alertmanager's `^(?:re)$`). Regexes are RE2, the engine
// and syntax of Alertmanager's Go regexp: matching takes time linear in the
// value, whatever the pattern (a hostile `(a+)+$` included).
// Used by routes now and by silences and inhibit rules later.
// A Matcher is immutable after parsing and thread-safe to use.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/status.h"
#include "rules/alert.h"

namespace re2 {
class RE2;
}

namespace linkwatch::notifiers {

class Matcher {
 public:
  enum class Op { kEqual, kNotEqual, kRegex, kNotRegex };

  static Result<Matcher> Make(std::string name, Op op, std::string value);

  // A missing label matches as the empty string, as in Alertmanager.
  bool Matches(const LabelSet& labels) const;
  // name op "value", e.g. severity="critical" (Alertmanager's rendering).
  std::string ToString() const;

  const std::string& name() const { return name_; }
  Op op() const { return op_; }
  const std::string& value() const { return value_; }

  // Order of Alertmanager's sorted matcher lists: name, op, value.
  bool operator<(const Matcher& o) const;

 private:
  std::string name_;
  Op op_ = Op::kEqual;
  std::string value_;
  std::shared_ptr<const re2::RE2> regex_;
};

// Parses one matcher string as written in YAML: `a="b"`, or several
// separated by commas, optionally in braces: `{a="b", c=~"d|e"}`.
Result<std::vector<Matcher>> ParseMatchers(std::string_view text);

// All matchers match.
bool MatchAll(const std::vector<Matcher>& matchers, const LabelSet& labels);

// {a="b",c=~"d"}: Alertmanager's rendering of a matcher list (route keys).
std::string FormatMatchers(const std::vector<Matcher>& matchers);

}  // namespace linkwatch::notifiers
