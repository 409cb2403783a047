#include "rules/rule_file.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"

namespace linkwatch {
namespace {

using rules::Expr;
using rules::ExprEnv;
using rules::ExprError;
using rules::Subject;
using rules::Template;
using rules::Type;
using rules::TypeInfo;

bool IsLabelName(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

class Loader {
 public:
  Loader(Millis default_interval) : default_interval_(default_interval) {}

  void LoadFile(const std::string& path, std::vector<RuleGroup>& out) {
    // A directory opens as an empty stream on Linux and would pass as a
    // file without rules; promtool refuses it.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      problems_.push_back(
          Problem{path, 0, 0, "is a directory (give rule files, e.g. " + path + "/*.yaml)"});
      return;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      problems_.push_back(Problem{path, 0, 0, "cannot open rule file"});
      return;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    LoadText(ss.str(), path, out);
  }

  void LoadText(const std::string& text, const std::string& name, std::vector<RuleGroup>& out) {
    YAML::Node root;
    try {
      root = LoadYamlString(text, name);
    } catch (const InputError& e) {
      problems_.insert(problems_.end(), e.problems().begin(), e.problems().end());
      return;
    }
    Problems p(name);
    source_ = &text;
    LoadRoot(root, p, out);
    problems_.insert(problems_.end(), p.list().begin(), p.list().end());
  }

  void ThrowIfAny() const {
    if (!problems_.empty()) throw InputError(problems_);
  }

 private:
  // Adds an expression problem at its exact position inside scalar `node`.
  void AddAt(Problems& p, const YAML::Node& node, int offset, const std::string& message) {
    const YAML::Mark m = node.Mark();
    if (m.is_null()) {
      p.Add(node, message);
      return;
    }
    auto [line, column] = rules::ScalarPosition(*source_, m.line, m.column, node.Scalar(), offset);
    p.Add(line, column, message);
  }

  void LoadRoot(const YAML::Node& root, Problems& p, std::vector<RuleGroup>& out) {
    if (!root || root.IsNull()) return;  // an empty file has no groups
    if (!CheckKeys(root, {"groups"}, p, "rule file")) return;
    const YAML::Node groups = root["groups"];
    if (!groups) {
      p.Add(root, "rule file has no \"groups\"");
      return;
    }
    if (groups.IsNull()) return;
    if (!groups.IsSequence()) {
      p.Add(groups, "groups must be a list");
      return;
    }
    for (const auto& g : groups) LoadGroup(g, p, out);
  }

  void LoadGroup(const YAML::Node& g, Problems& p, std::vector<RuleGroup>& out) {
    if (!CheckKeys(g, {"name", "interval", "rules"}, p, "group")) return;
    RuleGroup group;
    group.file = p.file();
    group.interval = default_interval_;
    bool ok = true;
    if (const auto n = g["name"]; !n) {
      p.Add(g, "group is missing \"name\"");
      ok = false;
    } else if (auto name = GetString(n, p, "group name")) {
      if (name->empty()) {
        p.Add(n, "group name must not be empty");
        ok = false;
      }
      group.name = *name;
      const std::string here = p.file() + ":" + std::to_string(n.Mark().line + 1);
      auto [it, inserted] = group_names_.emplace(group.name, here);
      if (!inserted) {
        p.Add(n,
              "duplicate group name \"" + group.name + "\" (first defined at " + it->second + ")");
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const auto n = g["interval"]) {
      if (auto d = GetDuration(n, p, "interval")) {
        if (d->count() <= 0) {
          p.Add(n, "interval must be greater than 0");
          ok = false;
        }
        group.interval = *d;
      } else {
        ok = false;
      }
    }
    const auto rules = g["rules"];
    if (rules && !rules.IsNull()) {
      if (!rules.IsSequence()) {
        p.Add(rules, "rules must be a list");
        ok = false;
      } else {
        for (const auto& r : rules) {
          Rule rule;
          if (LoadRule(r, p, rule)) {
            group.rules.push_back(std::move(rule));
          } else {
            ok = false;
          }
        }
      }
    }
    if (ok) out.push_back(std::move(group));
  }

  bool LoadRule(const YAML::Node& r, Problems& p, Rule& rule) {
    if (!CheckKeys(r, {"alert", "on", "expr", "for", "keep_firing_for", "labels", "annotations"}, p,
                   "rule")) {
      return false;
    }
    bool ok = true;
    rule.file = p.file();
    rule.line = r.Mark().line + 1;
    if (const auto n = r["alert"]; !n) {
      p.Add(r, r["record"] ? "recording rules are not supported: a rule needs \"alert\""
                           : "rule is missing \"alert\"");
      ok = false;
    } else if (auto name = GetString(n, p, "alert")) {
      if (!IsLabelName(*name)) {
        p.Add(n, "invalid alert name \"" + *name +
                     "\" (letters, digits and _, not starting with a digit)");
        ok = false;
      }
      rule.alert = *name;
    } else {
      ok = false;
    }
    if (const auto n = r["on"]) {
      auto on = GetString(n, p, "on");
      if (!on) {
        ok = false;
      } else if (*on == "entity") {
        rule.on = Subject::kEntity;
      } else if (*on == "profile") {
        rule.on = Subject::kProfile;
      } else if (*on == "external") {
        rule.on = Subject::kExternal;
      } else {
        std::string msg = "invalid on \"" + *on + "\" (entity, profile or external)";
        std::string near = NearestKey(*on, {"entity", "profile", "external"});
        if (!near.empty()) msg += " (did you mean \"" + near + "\"?)";
        p.Add(n, msg);
        ok = false;
      }
    }
    bool expr_ok = false;
    if (const auto n = r["expr"]; !n) {
      p.Add(r, "rule is missing \"expr\"");
      ok = false;
    } else if (!n.IsScalar()) {
      p.Add(n, "expr must be a string");
      ok = false;
    } else {
      ExprEnv env;
      env.subject = rule.on;
      env.require_bool = true;
      ExprError err;
      auto e = Expr::Compile(n.Scalar(), env, err);
      if (e) {
        rule.expr = std::move(*e);
        expr_ok = true;
      } else {
        AddAt(p, n, err.offset, err.message);
        ok = false;
      }
    }
    for (auto [key, target] : {std::pair{"for", &rule.for_duration},
                               std::pair{"keep_firing_for", &rule.keep_firing_for}}) {
      if (const auto n = r[key]) {
        if (auto d = GetDuration(n, p, key)) {
          *target = *d;
        } else {
          ok = false;
        }
      }
    }
    // Templates see the base labels; annotations also see the rule's labels.
    ExprEnv env;
    env.subject = rule.on;
    env.allow_variables = true;
    env.label_names = rules::BaseLabelNames(rule.on);
    env.value_type = expr_ok ? rule.expr.value_type() : TypeInfo::Of(Type::kNull);
    if (const auto n = r["labels"]) {
      if (!LoadTemplates(n, p, env, "labels", rule.labels)) ok = false;
      for (const auto& [name, t] : rule.labels) env.label_names.push_back(name);
    }
    if (const auto n = r["annotations"]) {
      if (!LoadTemplates(n, p, env, "annotations", rule.annotations)) ok = false;
    }
    return ok;
  }

  bool LoadTemplates(const YAML::Node& map, Problems& p, const ExprEnv& env, const char* what,
                     std::vector<std::pair<std::string, Template>>& out) {
    if (map.IsNull()) return true;
    if (!map.IsMap()) {
      p.Add(map, std::string(what) + " must be a mapping of names to text");
      return false;
    }
    const bool labels = std::string(what) == "labels";
    bool ok = true;
    for (const auto& kv : map) {
      const std::string name = kv.first.Scalar();
      if (!IsLabelName(name) || name.rfind("__", 0) == 0) {
        p.Add(kv.first, "invalid " + std::string(labels ? "label" : "annotation") + " name \"" +
                            name + "\" (letters, digits and _, not starting with a digit or __)");
        ok = false;
        continue;
      }
      if (labels && (name == "alertname" || name == "source")) {
        p.Add(kv.first, "label \"" + name + "\" is set by linkwatch and cannot be overridden");
        ok = false;
        continue;
      }
      if (!kv.second.IsScalar()) {
        p.Add(kv.second, std::string(what) + " value of \"" + name + "\" must be text");
        ok = false;
        continue;
      }
      ExprError err;
      auto t = Template::Compile(kv.second.Scalar(), env, err);
      if (!t) {
        AddAt(p, kv.second, err.offset, err.message);
        ok = false;
        continue;
      }
      out.emplace_back(name, std::move(*t));
    }
    return ok;
  }

  Millis default_interval_;
  std::vector<Problem> problems_;
  std::map<std::string, std::string> group_names_;  // name -> "file:line"
  const std::string* source_ = nullptr;
};

}  // namespace

namespace rules {

std::vector<std::string> BaseLabelNames(Subject subject) {
  std::vector<std::string> names{"alertname", "source", "profile"};
  if (subject != Subject::kProfile) names.push_back("entity");
  return names;
}

std::pair<int, int> ScalarPosition(const std::string& source, int mark_line, int mark_column,
                                   const std::string& value, int offset) {
  // Start of the scalar token.
  size_t p = 0;
  for (int line = 0; line < mark_line && p < source.size(); ++p) {
    if (source[p] == '\n') ++line;
  }
  p = std::min(source.size(), p + static_cast<size_t>(std::max(0, mark_column)));
  char quote = 0;
  if (p < source.size() && (source[p] == '|' || source[p] == '>')) {
    // Block scalar: the content starts on the next line.
    while (p < source.size() && source[p] != '\n') ++p;
    if (p < source.size()) ++p;
  } else if (p < source.size() && (source[p] == '"' || source[p] == '\'')) {
    quote = source[p++];
  }
  // Walk the source and the decoded value side by side; what differs
  // between them is quoting, escapes, indentation and folded line breaks.
  size_t i = 0;
  const size_t target = std::min(value.size(), static_cast<size_t>(std::max(0, offset)));
  while (i < target && p < source.size()) {
    const char s = source[p];
    const char v = value[i];
    if (quote == '"' && s == '\\' && p + 1 < source.size()) {
      p += 2;
      ++i;
    } else if (quote == '\'' && s == '\'' && p + 1 < source.size() && source[p + 1] == '\'') {
      p += 2;
      ++i;
    } else if (s == v) {
      ++p;
      ++i;
    } else if (IsSpace(s)) {
      ++p;
    } else if (IsSpace(v)) {
      ++i;
    } else {
      ++p;
    }
  }
  // Skip indentation so an offset at a line start points at the text.
  if (i < value.size()) {
    while (p < source.size() && IsSpace(source[p]) && source[p] != value[i]) ++p;
  }
  int line = 1, column = 1;
  for (size_t k = 0; k < p && k < source.size(); ++k) {
    if (source[k] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

}  // namespace rules

std::vector<RuleGroup> LoadRuleFiles(const std::vector<std::string>& paths,
                                     Millis default_interval) {
  Loader loader(default_interval);
  std::vector<RuleGroup> out;
  for (const auto& path : paths) loader.LoadFile(path, out);
  loader.ThrowIfAny();
  return out;
}

std::vector<RuleGroup> LoadRuleString(const std::string& text, const std::string& name,
                                      Millis default_interval) {
  Loader loader(default_interval);
  std::vector<RuleGroup> out;
  loader.LoadText(text, name, out);
  loader.ThrowIfAny();
  return out;
}

}  // namespace linkwatch
