#include "rules/rule_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/core/problem.h"

namespace linkwatch {
namespace {

// Every problem of loading `text` as "r.yaml", as printed by `rules check`.
std::vector<std::string> ProblemsOf(const std::string& text) {
  try {
    LoadRuleString(text, "r.yaml", Millis(15000));
  } catch (const InputError& e) {
    std::vector<std::string> out;
    for (const auto& p : e.problems()) out.push_back(p.ToString());
    return out;
  }
  return {};
}

// A one-rule file whose rule body is `rule` (indented by 8).
std::string OneRule(const std::string& rule) {
  return "groups:\n"
         "  - name: g\n"
         "    rules:\n"
         "      - alert: A\n" +
         rule;
}

using ::testing::ElementsAre;

TEST(RuleFileTest, LoadsAValidFile) {
  auto groups = LoadRuleString(R"(groups:
  - name: synapse-link
    interval: 30s
    rules:
      - alert: SyncStalled
        expr: syncstate == "InProgress" and age(lastsynceddatatime) > 15m
        for: 5m
        keep_firing_for: 1m
        labels: {severity: critical, team: data}
        annotations:
          summary: "{{ entityname }} stalled for {{ $value }}"
  - name: profiles
    rules:
      - alert: ProfileError
        on: profile
        expr: profilestate == "Error"
)",
                               "r.yaml", Millis(15000));
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "synapse-link");
  EXPECT_EQ(groups[0].interval, Millis(30000));
  EXPECT_EQ(groups[1].interval, Millis(15000));  // the caller's default
  const Rule& r = groups[0].rules[0];
  EXPECT_EQ(r.alert, "SyncStalled");
  EXPECT_EQ(r.on, rules::Subject::kEntity);
  EXPECT_EQ(r.for_duration, Millis(300000));
  EXPECT_EQ(r.keep_firing_for, Millis(60000));
  ASSERT_EQ(r.labels.size(), 2u);
  EXPECT_EQ(r.labels[0].first, "severity");
  EXPECT_EQ(r.labels[1].first, "team");
  EXPECT_EQ(r.annotations[0].first, "summary");
  EXPECT_EQ(r.file, "r.yaml");
  EXPECT_EQ(r.line, 5);
  EXPECT_EQ(groups[1].rules[0].on, rules::Subject::kProfile);
}

TEST(RuleFileTest, EmptyFileHasNoGroups) {
  EXPECT_TRUE(LoadRuleString("", "r.yaml", Millis(1000)).empty());
  EXPECT_TRUE(LoadRuleString("groups: []\n", "r.yaml", Millis(1000)).empty());
}

TEST(RuleFileTest, UnknownKeySuggestsTheNearest) {
  EXPECT_THAT(ProblemsOf(OneRule("        exp: syncstate == 2\n")),
              ElementsAre("r.yaml:5:9: unknown key \"exp\" in rule (did you mean \"expr\"?)",
                          "r.yaml:4:9: rule is missing \"expr\""));
  EXPECT_THAT(ProblemsOf("groups:\n  - name: g\n    interva: 1m\n"),
              ElementsAre("r.yaml:3:5: unknown key \"interva\" in group (did you mean "
                          "\"interval\"?)"));
  EXPECT_THAT(ProblemsOf("group: []\n"),
              ElementsAre("r.yaml:1:1: unknown key \"group\" in rule file (did you mean "
                          "\"groups\"?)",
                          "r.yaml:1:1: rule file has no \"groups\""));
}

TEST(RuleFileTest, BadDuration) {
  EXPECT_THAT(ProblemsOf(OneRule("        expr: syncstate == 2\n        for: 5 minutes\n")),
              ElementsAre("r.yaml:6:14: for: invalid duration \"5 minutes\" (missing or unknown "
                          "unit; use ms, s, m, h, d, w, y)"));
  EXPECT_THAT(ProblemsOf("groups:\n  - name: g\n    interval: 0s\n    rules: []\n"),
              ElementsAre("r.yaml:3:15: interval must be greater than 0"));
}

TEST(RuleFileTest, ExpressionErrorsAtTheirExactColumn) {
  // Plain scalar: column of the scalar plus the offset.
  EXPECT_THAT(
      ProblemsOf(OneRule("        expr: syncstate == 2 and age(lastsynceddatatime) > 900\n")),
      ElementsAre("r.yaml:5:58: cannot compare duration with number (durations mix only "
                  "with durations: write 900s, not 900)"));
  // Double-quoted scalar with an escape before the error.
  EXPECT_THAT(ProblemsOf(OneRule("        expr: \"entityname == \\\"a\\\" and syncstat == 2\"\n")),
              ElementsAre("r.yaml:5:40: unknown column \"syncstat\" of "
                          "synapselinkprofileentitystate (did you mean \"syncstate\"?)"));
  // Folded block scalar: the error is on the second line of the block.
  EXPECT_THAT(ProblemsOf(OneRule("        expr: >-\n"
                                 "          syncstate == \"InProgress\"\n"
                                 "            and age(lastsynceddatatime) > 15\n")),
              ElementsAre("r.yaml:7:41: cannot compare duration with number (durations mix only "
                          "with durations: write 900s, not 900)"));
  // Literal block scalar.
  EXPECT_THAT(ProblemsOf(OneRule("        expr: |\n"
                                 "          syncstate == 2\n"
                                 "          and (1 +\n")),
              ElementsAre("r.yaml:7:19: unexpected end of expression (expected a value)"));
  // A syntax error.
  EXPECT_THAT(ProblemsOf(OneRule("        expr: syncstate = 2\n")),
              ElementsAre("r.yaml:5:25: unexpected \"=\" (write == to compare)"));
}

TEST(RuleFileTest, UnknownColumn) {
  EXPECT_THAT(ProblemsOf(OneRule("        expr: profile.profilestat == \"Active\"\n")),
              ElementsAre("r.yaml:5:15: unknown column \"profilestat\" of synapselinkprofile "
                          "(did you mean \"profilestate\"?)"));
  EXPECT_THAT(ProblemsOf(OneRule("        on: profile\n        expr: entity.enabled\n")),
              ElementsAre("r.yaml:6:15: entity.<column> is not available in on: profile rules"));
}

TEST(RuleFileTest, UnknownChoiceLabel) {
  EXPECT_THAT(
      ProblemsOf(OneRule("        expr: syncstate == 'Running'\n")),
      ElementsAre("r.yaml:5:28: unknown label \"Running\" of choice synapselinkentitysyncstate "
                  "(known: None (0), NotStarted (1), InProgress (2), Completed (4), "
                  "CompletedWithFailures (8), RequestedInitialData (16), Paused (32), "
                  "PostProcessing (64))"));
  EXPECT_THAT(ProblemsOf(OneRule("        on: external\n"
                                 "        expr: tablestate in [\"Created\", \"Broken\"]\n")),
              ElementsAre(::testing::StartsWith("r.yaml:6:41: unknown label \"Broken\" of choice "
                                                "synapselinkexternaltablestate")));
}

TEST(RuleFileTest, TypeErrors) {
  EXPECT_THAT(ProblemsOf(OneRule("        expr: entityname == 3\n")),
              ElementsAre("r.yaml:5:26: cannot compare string with number"));
  EXPECT_THAT(ProblemsOf(OneRule("        expr: crmrecordcount - lakerecordcount\n")),
              ElementsAre("r.yaml:5:15: an alert condition must be boolean (true fires), got "
                          "number"));
  EXPECT_THAT(ProblemsOf(OneRule("        expr: syncstate < 'Completed'\n")),
              ElementsAre("r.yaml:5:25: < does not apply to choices (only ==, != and in do)"));
}

TEST(RuleFileTest, TemplateErrorsAtTheirColumn) {
  EXPECT_THAT(
      ProblemsOf(
          OneRule("        expr: syncstate == 2\n"
                  "        labels: {severity: \"{{ $labels.entty }}\"}\n"
                  "        annotations:\n"
                  "          summary: '{{ entityname }} for {{ age(lastsynceddatatim) }}'\n")),
      ElementsAre("r.yaml:6:32: unknown label \"entty\" in $labels (did you mean \"entity\"?)",
                  "r.yaml:8:49: unknown column \"lastsynceddatatim\" of "
                  "synapselinkprofileentitystate (did you mean \"lastsynceddatatime\"?)"));
}

TEST(RuleFileTest, DuplicateGroupNames) {
  EXPECT_THAT(ProblemsOf("groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n"),
              ElementsAre("r.yaml:4:11: duplicate group name \"g\" (first defined at r.yaml:2)"));
}

TEST(RuleFileTest, MissingAlertOrExpr) {
  EXPECT_THAT(ProblemsOf("groups:\n  - name: g\n    rules:\n      - expr: syncstate == 2\n"),
              ElementsAre("r.yaml:4:9: rule is missing \"alert\""));
  EXPECT_THAT(ProblemsOf(OneRule("        for: 1m\n")),
              ElementsAre("r.yaml:4:9: rule is missing \"expr\""));
  EXPECT_THAT(ProblemsOf("groups:\n  - rules: []\n"),
              ElementsAre("r.yaml:2:5: group is missing \"name\""));
}

TEST(RuleFileTest, InvalidNamesAndSubjects) {
  EXPECT_THAT(ProblemsOf(OneRule("        on: entities\n        expr: true\n")),
              ElementsAre("r.yaml:5:13: invalid on \"entities\" (entity, profile or external) "
                          "(did you mean \"entity\"?)"));
  EXPECT_THAT(
      ProblemsOf("groups:\n  - name: g\n    rules:\n      - alert: Sync Stalled\n"
                 "        expr: true\n"),
      ElementsAre(::testing::StartsWith("r.yaml:4:16: invalid alert name \"Sync Stalled\"")));
  EXPECT_THAT(ProblemsOf(OneRule("        expr: true\n        labels: {source: x, 1x: y}\n")),
              ElementsAre("r.yaml:6:18: label \"source\" is set by linkwatch and cannot be "
                          "overridden",
                          ::testing::StartsWith("r.yaml:6:29: invalid label name \"1x\"")));
}

TEST(RuleFileTest, YamlSyntaxError) {
  auto problems = ProblemsOf("groups:\n  - name: [g\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], ::testing::StartsWith("r.yaml:3:1: YAML syntax error"));
}

class RuleFilesOnDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lw_rulefile_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(RuleFilesOnDiskTest, CollectsEveryProblemOfEveryFile) {
  auto a = Write("a.yaml", OneRule("        expr: syncstat == 2\n"));
  auto b = Write("b.yaml",
                 "groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: true\n"
                 "        for: soon\n");
  auto missing = (dir_ / "missing.yaml").string();
  try {
    LoadRuleFiles({a, b, missing}, Millis(15000));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    std::vector<std::string> got;
    for (const auto& p : e.problems()) got.push_back(p.ToString());
    EXPECT_THAT(got,
                ElementsAre(a + ":5:15: unknown column \"syncstat\" of "
                                "synapselinkprofileentitystate (did you mean \"syncstate\"?)",
                            b + ":2:11: duplicate group name \"g\" (first defined at " + a + ":2)",
                            ::testing::StartsWith(b + ":6:14: for: invalid duration \"soon\""),
                            missing + ": cannot open rule file"));
  }
}

TEST_F(RuleFilesOnDiskTest, ShippedExampleLoads) {
  auto groups = LoadRuleFiles(
      {std::string(LINKWATCH_SOURCE_DIR) + "/examples/rules/synapse-link.yaml"}, Millis(15000));
  ASSERT_EQ(groups.size(), 1u);
  std::vector<std::string> names;
  for (const auto& r : groups[0].rules) names.push_back(r.alert);
  EXPECT_THAT(names,
              ElementsAre("SyncStalled", "InitialSyncFailed", "InitialSyncStuck", "CountDrift",
                          "SyncFailed", "SyncBroken", "ProfileError", "ExternalTableFailed"));
}

// Issue 7 point 17: repeated keys are errors, as in promtool.
TEST(RuleFileTest, DuplicateKeysAreErrors) {
  EXPECT_THAT(ProblemsOf(OneRule("        expr: syncstate == 2\n        expr: syncstate == 4\n")),
              ElementsAre("r.yaml:6:9: duplicate key \"expr\" (first at line 5, column 9)"));
  EXPECT_THAT(
      ProblemsOf(OneRule("        expr: syncstate == 2\n        labels: {a: x, b: y, a: z}\n")),
      ElementsAre("r.yaml:6:30: duplicate key \"a\" (first at line 6, column 18)"));
}

// Issue 7 point 17: a directory is refused (as promtool does), not read as a
// file without rules.
TEST(RuleFileTest, ADirectoryIsRefused) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("lw_rules_dir_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.yaml") << "groups: []\n";
  try {
    LoadRuleFiles({dir.string()}, Millis(15000));
    ADD_FAILURE() << "a directory was accepted";
  } catch (const InputError& e) {
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_EQ(
        e.problems()[0].ToString(),
        dir.string() + ": is a directory (give rule files, e.g. " + dir.string() + "/*.yaml)");
  }
  // An empty file is fine: no groups, no rules (promtool: "0 rules found").
  EXPECT_TRUE(LoadRuleFiles({(dir / "a.yaml").string()}, Millis(15000)).empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace linkwatch
