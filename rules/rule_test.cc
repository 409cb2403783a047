#include "rules/rule_test.h"

#include <glob.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "agent/core/problem.h"
#include "agent/core/time_format.h"
#include "agent/core/yaml_util.h"
#include "agent/state/snapshot.h"
#include "rules/rule_engine.h"
#include "rules/rule_file.h"
#include "rules/rules_metrics.h"

namespace linkwatch {
namespace {

using state::Cell;
using state::ColumnType;
using state::TableId;

struct ExpectedAlert {
  std::string alertname;
  LabelSet labels;
  std::optional<LabelSet> annotations;
};

struct AlertCheck {
  long long at_ms = 0;
  int line = 0;
  std::vector<ExpectedAlert> firing;
};

struct StateAt {
  long long at_ms = 0;
  state::Snapshot snap;
};

struct TestCase {
  std::string name;
  double start = 0;
  long long interval_ms = 60000;
  std::string source = "local";
  std::vector<StateAt> states;
  std::vector<AlertCheck> checks;
};

struct TestFile {
  std::string path;
  std::vector<RuleGroup> groups;
  std::vector<TestCase> tests;
};

std::string AlertText(const std::string& name, const LabelSet& labels,
                      const LabelSet* annotations) {
  std::string out = name + FormatLabelSet(labels);
  if (annotations) out += " annotations" + FormatLabelSet(*annotations);
  return out;
}

// Deterministic ids: the same test always builds the same rows.
std::string GeneratedId(TableId table, size_t state_index, size_t row) {
  char buf[40];
  snprintf(buf, sizeof buf, "00000000-%04x-4000-8000-%012zx",
           static_cast<unsigned>(static_cast<int>(table) + 1) & 0xffff,
           state_index * 1000000 + row);
  return buf;
}

class TestLoader {
 public:
  explicit TestLoader(std::vector<Problem>& problems) : all_(problems) {}

  std::optional<TestFile> Load(const std::string& path) {
    YAML::Node root;
    try {
      root = LoadYamlFile(path);
    } catch (const InputError& e) {
      all_.insert(all_.end(), e.problems().begin(), e.problems().end());
      return std::nullopt;
    }
    Problems p(path);
    TestFile file;
    file.path = path;
    if (!root || root.IsNull()) {
      p.Add(0, 0, "empty rule test file");
    } else if (CheckKeys(root, {"rule_files", "tests"}, p, "rule test file")) {
      LoadRuleFilesOf(root, p, file);
      if (const auto tests = root["tests"]; !tests) {
        p.Add(root, "rule test file has no \"tests\"");
      } else if (!tests.IsSequence()) {
        p.Add(tests, "tests must be a list");
      } else {
        int n = 0;
        for (const auto& t : tests) {
          ++n;
          TestCase tc;
          if (LoadTest(t, p, tc, n)) file.tests.push_back(std::move(tc));
        }
      }
    }
    all_.insert(all_.end(), p.list().begin(), p.list().end());
    if (!p.empty()) return std::nullopt;
    return file;
  }

 private:
  void LoadRuleFilesOf(const YAML::Node& root, Problems& p, TestFile& file) {
    const auto node = root["rule_files"];
    if (!node) {
      p.Add(root, "rule test file has no \"rule_files\"");
      return;
    }
    const auto patterns = GetStringList(node, p, "rule_files");
    const std::filesystem::path dir = std::filesystem::path(file.path).parent_path();
    std::vector<std::string> paths;
    size_t i = 0;
    for (const auto& pattern : patterns) {
      const YAML::Node item = node[i++];
      std::filesystem::path full = std::filesystem::path(pattern).is_absolute()
                                       ? std::filesystem::path(pattern)
                                       : dir / pattern;
      glob_t g{};
      const int rc = glob(full.string().c_str(), 0, nullptr, &g);
      if (rc == 0) {
        for (size_t k = 0; k < g.gl_pathc; ++k) paths.emplace_back(g.gl_pathv[k]);
      } else {
        p.Add(item, "no rule file matches \"" + pattern + "\" (looked for " + full.string() + ")");
      }
      globfree(&g);
    }
    try {
      file.groups = LoadRuleFiles(paths, Millis(60000));
    } catch (const InputError& e) {
      p.Append(e.problems());
    }
  }

  std::optional<long long> AtOf(const YAML::Node& parent, Problems& p, long long interval_ms) {
    const auto n = parent["at"];
    if (!n) {
      p.Add(parent, "missing \"at\"");
      return std::nullopt;
    }
    auto d = GetDuration(n, p, "at");
    if (!d) return std::nullopt;
    if (interval_ms > 0 && d->count() % interval_ms != 0) {
      p.Add(n, "at " + n.Scalar() + " is not a multiple of interval " +
                   FormatDuration(Millis(interval_ms)));
      return std::nullopt;
    }
    return d->count();
  }

  bool LoadTest(const YAML::Node& t, Problems& p, TestCase& tc, int n) {
    if (!CheckKeys(t, {"name", "start", "interval", "source", "states", "alerts"}, p, "test")) {
      return false;
    }
    const size_t before = p.list().size();
    tc.name = "test " + std::to_string(n);
    if (const auto v = t["name"]) {
      if (auto s = GetString(v, p, "name")) tc.name = *s;
    }
    if (const auto v = t["start"]) {
      if (auto s = GetString(v, p, "start")) {
        auto parsed = ParseDateTime(*s);
        if (parsed) {
          tc.start = *parsed;
        } else {
          p.Add(v, "start: " + parsed.message());
        }
      }
    }
    if (const auto v = t["interval"]) {
      if (auto d = GetDuration(v, p, "interval")) {
        if (d->count() <= 0) {
          p.Add(v, "interval must be greater than 0");
        } else {
          tc.interval_ms = d->count();
        }
      }
    }
    if (const auto v = t["source"]) {
      if (auto s = GetString(v, p, "source")) tc.source = *s;
    }
    if (const auto states = t["states"]) {
      if (!states.IsSequence()) {
        p.Add(states, "states must be a list");
      } else {
        for (const auto& s : states) {
          StateAt st;
          if (LoadState(s, p, st, tc.interval_ms, tc.states.size()))
            tc.states.push_back(std::move(st));
        }
      }
    }
    std::stable_sort(tc.states.begin(), tc.states.end(),
                     [](const StateAt& a, const StateAt& b) { return a.at_ms < b.at_ms; });
    if (const auto alerts = t["alerts"]) {
      if (!alerts.IsSequence()) {
        p.Add(alerts, "alerts must be a list");
      } else {
        for (const auto& a : alerts) {
          AlertCheck c;
          if (LoadCheck(a, p, c, tc.interval_ms)) tc.checks.push_back(std::move(c));
        }
      }
    }
    std::stable_sort(tc.checks.begin(), tc.checks.end(),
                     [](const AlertCheck& a, const AlertCheck& b) { return a.at_ms < b.at_ms; });
    if (!tc.checks.empty() && tc.checks.back().at_ms / tc.interval_ms > 10000000) {
      p.Add(t, "test runs more than 10,000,000 evaluations; use a longer interval");
    }
    return p.list().size() == before;
  }

  bool LoadCheck(const YAML::Node& a, Problems& p, AlertCheck& c, long long interval_ms) {
    if (!CheckKeys(a, {"at", "firing"}, p, "alerts entry")) return false;
    c.line = a.Mark().line + 1;
    auto at = AtOf(a, p, interval_ms);
    if (!at) return false;
    c.at_ms = *at;
    const auto firing = a["firing"];
    if (!firing) {
      p.Add(a, "alerts entry has no \"firing\" (write firing: [] for none)");
      return false;
    }
    if (firing.IsNull()) return true;
    if (!firing.IsSequence()) {
      p.Add(firing, "firing must be a list");
      return false;
    }
    bool ok = true;
    for (const auto& f : firing) {
      if (!CheckKeys(f, {"alertname", "labels", "annotations"}, p, "firing alert")) {
        ok = false;
        continue;
      }
      ExpectedAlert e;
      if (const auto n = f["alertname"]; !n) {
        p.Add(f, "firing alert has no \"alertname\"");
        ok = false;
      } else if (auto s = GetString(n, p, "alertname")) {
        e.alertname = *s;
      } else {
        ok = false;
      }
      if (const auto n = f["labels"]) {
        ok &= LoadMap(n, p, "labels", e.labels);
        for (const char* reserved : {"alertname", "source"}) {
          if (e.labels.count(reserved)) {
            p.Add(n, std::string("labels must not list \"") + reserved +
                         "\" (compared without alertname and source)");
            ok = false;
          }
        }
      }
      if (const auto n = f["annotations"]) {
        e.annotations.emplace();
        ok &= LoadMap(n, p, "annotations", *e.annotations);
      }
      c.firing.push_back(std::move(e));
    }
    return ok;
  }

  static bool LoadMap(const YAML::Node& n, Problems& p, const std::string& what, LabelSet& out) {
    if (n.IsNull()) return true;
    if (!n.IsMap()) {
      p.Add(n, what + " must be a mapping");
      return false;
    }
    bool ok = true;
    for (const auto& kv : n) {
      if (!kv.second.IsScalar()) {
        p.Add(kv.second, what + " values must be text");
        ok = false;
        continue;
      }
      out[kv.first.Scalar()] = kv.second.Scalar();
    }
    return ok;
  }

  struct PendingLookup {
    TableId table;
    size_t row;
    int column;
    std::string name;
    YAML::Node node;
  };

  bool LoadState(const YAML::Node& s, Problems& p, StateAt& st, long long interval_ms,
                 size_t state_index) {
    // The six tables and linkwatch's own sync record (linkwatch_sync,
    // joined as sync.<col>).
    std::vector<const state::TableDef*> defs;
    for (int t = 0; t < state::kTableCount; ++t) {
      defs.push_back(&state::Table(static_cast<TableId>(t)));
    }
    std::vector<std::string> keys{"at"};
    for (const auto* t : defs) keys.emplace_back(t->name);
    if (!CheckKeys(s, keys, p, "states entry")) return false;
    const size_t before = p.list().size();
    auto at = AtOf(s, p, interval_ms);
    if (at) st.at_ms = *at;
    std::vector<PendingLookup> lookups;
    for (const auto* defp : defs) {
      const auto& def = *defp;
      const auto rows = s[std::string(def.name)];
      if (!rows || rows.IsNull()) continue;
      if (!rows.IsSequence()) {
        p.Add(rows, std::string(def.name) + " must be a list of rows");
        continue;
      }
      auto& out = st.snap[def.id].rows;
      for (const auto& r : rows) {
        std::vector<std::string> cols;
        for (const auto& c : def.columns) cols.emplace_back(c.name);
        if (!CheckKeys(r, cols, p, std::string(def.name) + " row")) continue;
        state::Row row(def.columns.size());
        for (const auto& kv : r) {
          const int col = def.ColumnIndex(kv.first.Scalar());
          if (col < 0) continue;
          const YAML::Node& v = kv.second;
          if (v.IsNull()) continue;
          if (!v.IsScalar()) {
            p.Add(v, "value of " + kv.first.Scalar() + " must be a scalar");
            continue;
          }
          const auto& cd = def.columns[col];
          if (cd.type == ColumnType::kLookup) {
            lookups.push_back({def.id, out.size(), col, v.Scalar(), v});
            continue;
          }
          if (auto cell = ToCell(cd, v, p)) row[col] = st.snap.Store(*cell);
        }
        if (row[0].is_null()) {
          row[0] = st.snap.Text(GeneratedId(def.id, state_index, out.size()));
        }
        out.push_back(std::move(row));
      }
    }
    // Lookups name the referenced row (or give its id).
    for (const auto& l : lookups) {
      const auto& cd = state::Table(l.table).columns[l.column];
      const TableId target = *cd.lookup_table;
      const auto& rows = st.snap[target].rows;
      const auto& tdef = state::Table(target);
      const int name_col = tdef.ColumnIndex("name");
      const int entityname_col = tdef.ColumnIndex("entityname");
      const state::Row* found = nullptr;
      for (const int col : {0, name_col, entityname_col}) {
        if (col < 0 || found) continue;
        for (const auto& row : rows) {
          if (row[col].kind == Cell::Kind::kText && row[col].text() == l.name) {
            found = &row;
            break;
          }
        }
      }
      if (!found) {
        p.Add(l.node, "no " + std::string(tdef.name) + " row named \"" + l.name +
                          "\" in this state (a lookup is written as the referenced row's name)");
        continue;
      }
      st.snap[l.table].rows[l.row][l.column] = found->at(0);
    }
    return p.list().size() == before;
  }

  static std::optional<state::CellValue> ToCell(const state::ColumnDef& cd, const YAML::Node& v,
                                                Problems& p) {
    const std::string& text = v.Scalar();
    switch (cd.type) {
      case ColumnType::kInt: {
        double d = 0;
        if (!YAML::convert<double>::decode(v, d)) {
          p.Add(v, std::string(cd.name) + " must be a number");
          return std::nullopt;
        }
        // The state read's rule for integer columns (agent/state/snapshot.h).
        if (!state::WholeInt64(d)) {
          p.Add(v, std::string(cd.name) + " must be a whole number within int64");
          return std::nullopt;
        }
        return state::CellValue::Number(d);
      }
      case ColumnType::kBool: {
        if (text == "1" || text == "0") return state::CellValue::Number(text == "1" ? 1 : 0);
        bool b = false;
        if (!YAML::convert<bool>::decode(v, b)) {
          p.Add(v, std::string(cd.name) + " must be true or false");
          return std::nullopt;
        }
        return state::CellValue::Number(b ? 1 : 0);
      }
      case ColumnType::kDateTime: {
        auto t = ParseDateTime(text);
        if (!t) {
          p.Add(v, std::string(cd.name) + ": " + t.message());
          return std::nullopt;
        }
        return state::CellValue::Number(*t);
      }
      case ColumnType::kChoice: {
        int code = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
        if (ec == std::errc() && ptr == text.data() + text.size())
          return state::CellValue::Number(code);
        if (auto c = cd.choices->CodeOf(text)) return state::CellValue::Number(*c);
        std::string known;
        for (const auto& o : cd.choices->options) {
          known += (known.empty() ? "" : ", ") + std::string(o.label);
        }
        p.Add(v, "unknown label \"" + text + "\" of " + std::string(cd.name) + " (known: " + known +
                     ")");
        return std::nullopt;
      }
      default:
        return state::CellValue::Text(text);
    }
  }

  std::vector<Problem>& all_;
};

// Runs one test; prints its PASS/FAIL line and diff. Returns true on pass.
bool RunTest(const TestFile& file, const TestCase& tc, std::ostream& out) {
  prometheus::Registry registry;  // counted, never exposed
  RulesMetrics metrics(registry);
  RuleEngine engine(file.groups, nullptr, metrics);
  const state::Snapshot empty;
  std::ostringstream diff;
  bool pass = true;
  const long long end = tc.checks.empty() ? 0 : tc.checks.back().at_ms;
  size_t next_check = 0;
  for (long long t = 0; t <= end; t += tc.interval_ms) {
    const state::Snapshot* snap = &empty;
    for (const auto& s : tc.states) {
      if (s.at_ms <= t) snap = &s.snap;
    }
    const double now = tc.start + static_cast<double>(t) / 1000.0;
    engine.Evaluate(tc.source, *snap, now, /*force=*/true);
    while (next_check < tc.checks.size() && tc.checks[next_check].at_ms == t) {
      const AlertCheck& check = tc.checks[next_check++];
      std::vector<Alert> got;
      for (auto& a : engine.Alerts()) {
        if (a.state == AlertState::kFiring) got.push_back(std::move(a));
      }
      auto stripped = [](const Alert& a) {
        LabelSet l = a.labels;
        l.erase("alertname");
        l.erase("source");
        return l;
      };
      std::vector<bool> got_matched(got.size(), false);
      std::vector<bool> exp_matched(check.firing.size(), false);
      bool any_annotations = false;
      for (size_t e = 0; e < check.firing.size(); ++e) {
        const ExpectedAlert& x = check.firing[e];
        any_annotations |= x.annotations.has_value();
        for (size_t g = 0; g < got.size(); ++g) {
          if (got_matched[g]) continue;
          const auto name = got[g].labels.count("alertname") ? got[g].labels.at("alertname") : "";
          if (name != x.alertname || stripped(got[g]) != x.labels) continue;
          if (x.annotations && *x.annotations != got[g].annotations) continue;
          got_matched[g] = exp_matched[e] = true;
          break;
        }
      }
      const bool ok =
          std::all_of(got_matched.begin(), got_matched.end(), [](bool b) { return b; }) &&
          std::all_of(exp_matched.begin(), exp_matched.end(), [](bool b) { return b; });
      if (ok) continue;
      pass = false;
      diff << "  at " << FormatDuration(Millis(t)) << " (" << FormatDateTime(now) << ", line "
           << check.line << "):\n";
      diff << "    expected:\n";
      if (check.firing.empty()) diff << "        (none)\n";
      for (size_t e = 0; e < check.firing.size(); ++e) {
        const ExpectedAlert& x = check.firing[e];
        diff << "    " << (exp_matched[e] ? ' ' : '-') << "   "
             << AlertText(x.alertname, x.labels, x.annotations ? &*x.annotations : nullptr) << "\n";
      }
      diff << "    got:\n";
      if (got.empty()) diff << "        (none)\n";
      std::vector<std::pair<std::string, bool>> lines;
      for (size_t g = 0; g < got.size(); ++g) {
        const auto name = got[g].labels.count("alertname") ? got[g].labels.at("alertname") : "";
        lines.emplace_back(
            AlertText(name, stripped(got[g]), any_annotations ? &got[g].annotations : nullptr),
            got_matched[g]);
      }
      std::sort(lines.begin(), lines.end());
      for (const auto& [text, matched] : lines) {
        diff << "    " << (matched ? ' ' : '+') << "   " << text << "\n";
      }
    }
  }
  out << (pass ? "PASS " : "FAIL ") << file.path << ": " << tc.name << "\n";
  if (!pass) out << diff.str();
  return pass;
}

}  // namespace

int RunRuleTestFiles(const std::vector<std::string>& files, std::ostream& out) {
  std::vector<Problem> problems;
  std::vector<TestFile> loaded;
  TestLoader loader(problems);
  for (const auto& f : files) {
    if (auto t = loader.Load(f)) loaded.push_back(std::move(*t));
  }
  if (!problems.empty()) throw InputError(problems);
  int passed = 0, failed = 0;
  for (const auto& file : loaded) {
    for (const auto& tc : file.tests) {
      if (RunTest(file, tc, out)) {
        ++passed;
      } else {
        ++failed;
      }
    }
  }
  out << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace linkwatch
