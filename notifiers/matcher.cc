#include "notifiers/matcher.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <tuple>

namespace linkwatch::notifiers {
namespace {

const char* OpText(Matcher::Op op) {
  switch (op) {
    case Matcher::Op::kEqual:
      return "=";
    case Matcher::Op::kNotEqual:
      return "!=";
    case Matcher::Op::kRegex:
      return "=~";
    case Matcher::Op::kNotRegex:
      return "!~";
  }
  return "=";
}

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<std::vector<Matcher>> Parse() {
    SkipSpace();
    bool braces = false;
    if (Peek() == '{') {
      braces = true;
      ++i_;
    }
    std::vector<Matcher> out;
    while (true) {
      SkipSpace();
      if (braces && Peek() == '}') break;
      if (AtEnd()) break;
      auto m = ParseOne();
      if (!m.ok()) return m.status();
      out.push_back(std::move(m).value());
      SkipSpace();
      if (Peek() == ',') {
        ++i_;
        continue;
      }
      break;
    }
    SkipSpace();
    if (braces) {
      if (Peek() != '}') return Error("missing closing }");
      ++i_;
      SkipSpace();
    }
    if (!AtEnd()) return Error("unexpected \"" + std::string(s_.substr(i_)) + "\"");
    if (out.empty()) return Status::Error("empty matcher");
    return out;
  }

 private:
  Result<Matcher> ParseOne() {
    const size_t start = i_;
    if (!IsNameStart(Peek())) return Error("expected a label name");
    while (!AtEnd() && IsNameChar(s_[i_])) ++i_;
    std::string name(s_.substr(start, i_ - start));
    SkipSpace();
    Matcher::Op op;
    if (s_.substr(i_, 2) == "=~") {
      op = Matcher::Op::kRegex;
      i_ += 2;
    } else if (s_.substr(i_, 2) == "!~") {
      op = Matcher::Op::kNotRegex;
      i_ += 2;
    } else if (s_.substr(i_, 2) == "!=") {
      op = Matcher::Op::kNotEqual;
      i_ += 2;
    } else if (Peek() == '=') {
      op = Matcher::Op::kEqual;
      i_ += 1;
    } else {
      return Error("expected =, !=, =~ or !~ after " + name);
    }
    SkipSpace();
    std::string value;
    if (Peek() == '"') {
      ++i_;
      bool closed = false;
      while (!AtEnd()) {
        char c = s_[i_++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (AtEnd()) break;
          // As Alertmanager unescapes: \n, \" and \\; any other backslash
          // stays, so that a regex's \d or \. means what it says.
          const char e = s_[i_++];
          if (e == 'n') {
            value += '\n';
          } else if (e == '"' || e == '\\') {
            value += e;
          } else {
            value += '\\';
            value += e;
          }
        } else {
          value += c;
        }
      }
      if (!closed) return Error("unterminated quoted value");
    } else {
      const size_t vstart = i_;
      while (!AtEnd() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != '"') ++i_;
      if (Peek() == '"') return Error("unexpected quote");
      value = std::string(s_.substr(vstart, i_ - vstart));
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
        value.pop_back();
      }
    }
    return Matcher::Make(std::move(name), op, std::move(value));
  }

  Status Error(const std::string& what) const {
    return Status::Error("bad matcher \"" + std::string(s_) + "\": " + what);
  }
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[i_]; }
  void SkipSpace() {
    while (!AtEnd() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Result<Matcher> Matcher::Make(std::string name, Op op, std::string value) {
  Matcher m;
  m.name_ = std::move(name);
  m.op_ = op;
  m.value_ = std::move(value);
  if (op == Op::kRegex || op == Op::kNotRegex) {
    RE2::Options options;
    options.set_log_errors(false);  // the error is returned, with where it came from
    auto regex = std::make_shared<const RE2>(m.value_, options);
    if (!regex->ok()) {
      return Status::Error("bad regular expression \"" + m.value_ + "\" for " + m.name_ + ": " +
                           regex->error());
    }
    m.regex_ = std::move(regex);
  }
  return m;
}

bool Matcher::Matches(const LabelSet& labels) const {
  static const std::string kEmpty;
  auto it = labels.find(name_);
  const std::string& v = it == labels.end() ? kEmpty : it->second;
  switch (op_) {
    case Op::kEqual:
      return v == value_;
    case Op::kNotEqual:
      return v != value_;
    case Op::kRegex:
      return RE2::FullMatch(v, *regex_);  // anchored: the whole value must match
    case Op::kNotRegex:
      return !RE2::FullMatch(v, *regex_);
  }
  return false;
}

std::string Matcher::ToString() const { return name_ + OpText(op_) + QuoteLabelValue(value_); }

bool Matcher::operator<(const Matcher& o) const {
  return std::tie(name_, op_, value_) < std::tie(o.name_, o.op_, o.value_);
}

Result<std::vector<Matcher>> ParseMatchers(std::string_view text) { return Parser(text).Parse(); }

bool MatchAll(const std::vector<Matcher>& matchers, const LabelSet& labels) {
  return std::all_of(matchers.begin(), matchers.end(),
                     [&](const Matcher& m) { return m.Matches(labels); });
}

std::string FormatMatchers(const std::vector<Matcher>& matchers) {
  std::string out = "{";
  for (size_t i = 0; i < matchers.size(); ++i) {
    if (i > 0) out += ",";
    out += matchers[i].ToString();
  }
  return out + "}";
}

}  // namespace linkwatch::notifiers
