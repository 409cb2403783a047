#include "rules/rule_test.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/core/problem.h"

namespace linkwatch {
namespace {

using ::testing::HasSubstr;

const std::string kExamples = std::string(LINKWATCH_SOURCE_DIR) + "/examples/rules";

class RuleTestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lw_ruletest_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "rules");
    std::filesystem::copy_file(kExamples + "/synapse-link.yaml", dir_ / "rules" / "sl.yaml");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  // Problems of a malformed test file, as `rules test` prints them.
  std::vector<std::string> ProblemsOf(const std::string& text) {
    const std::string path = Write("bad.test.yaml", text);
    std::ostringstream out;
    try {
      RunRuleTestFiles({path}, out);
    } catch (const InputError& e) {
      std::vector<std::string> list;
      for (const auto& p : e.problems()) {
        std::string s = p.ToString();
        if (s.rfind(path, 0) == 0) s = "bad.test.yaml" + s.substr(path.size());
        list.push_back(s);
      }
      return list;
    }
    ADD_FAILURE() << "no InputError; output:\n" << out.str();
    return {};
  }
  std::filesystem::path dir_;
};

// The stalled-table scenario of contract.md section 5, expecting `severity`.
std::string StalledTest(const std::string& firing_at_21m) {
  return R"(rule_files: [rules/sl.yaml]
tests:
  - name: a stalled table fires after for
    start: 2026-01-01T00:00:00Z
    interval: 1m
    states:
      - at: 0m
        synapselinkprofile: [{name: crm, profilestate: Active}]
        synapselinkprofileentitystate:
          - {profile: crm, entityname: account, syncstate: InProgress, initialsyncstate: Completed,
             lastsynceddatatime: 2026-01-01T00:00:00Z, crmrecordcount: 10, lakerecordcount: 10}
    alerts:
      - at: 10m
        firing: []
      - at: 21m
        firing:
)" + firing_at_21m;
}

TEST_F(RuleTestTest, ShippedExamplePasses) {
  std::ostringstream out;
  EXPECT_EQ(RunRuleTestFiles({kExamples + "/synapse-link.test.yaml"}, out), 0) << out.str();
  EXPECT_THAT(out.str(), Not(HasSubstr("FAIL")));
  EXPECT_THAT(out.str(), HasSubstr("13 passed, 0 failed"));
  // Each default rule is made to fire in it.
  std::ifstream in(kExamples + "/synapse-link.test.yaml");
  std::stringstream text;
  text << in.rdbuf();
  for (const char* name : {"SyncStalled", "InitialSyncFailed", "InitialSyncStuck", "CountDrift",
                           "SyncFailed", "SyncBroken", "ProfileError", "ExternalTableFailed"}) {
    EXPECT_THAT(text.str(), HasSubstr(std::string("alertname: ") + name)) << name;
  }
}

TEST_F(RuleTestTest, TheContractExamplePasses) {
  const auto path = Write(
      "ok.test.yaml",
      StalledTest("          - {alertname: SyncStalled, labels: {profile: crm, entity: account, "
                  "severity: critical}}\n"));
  std::ostringstream out;
  EXPECT_EQ(RunRuleTestFiles({path}, out), 0) << out.str();
  EXPECT_EQ(out.str(), "PASS " + path + ": a stalled table fires after for\n1 passed, 0 failed\n");
}

TEST_F(RuleTestTest, AWrongExpectationFailsWithADiff) {
  const auto path = Write(
      "wrong.test.yaml",
      StalledTest("          - {alertname: SyncStalled, labels: {profile: crm, entity: account, "
                  "severity: warning}}\n"
                  "      - at: 30m\n"
                  "        firing: []\n"));
  std::ostringstream out;
  EXPECT_EQ(RunRuleTestFiles({path}, out), 1);
  EXPECT_EQ(out.str(),
            "FAIL " + path +
                ": a stalled table fires after for\n"
                "  at 21m (2026-01-01T00:21:00Z, line 15):\n"
                "    expected:\n"
                "    -   SyncStalled{entity=\"account\", profile=\"crm\", severity=\"warning\"}\n"
                "    got:\n"
                "    +   SyncStalled{entity=\"account\", profile=\"crm\", severity=\"critical\"}\n"
                "  at 30m (2026-01-01T00:30:00Z, line 18):\n"
                "    expected:\n"
                "        (none)\n"
                "    got:\n"
                "    +   SyncStalled{entity=\"account\", profile=\"crm\", severity=\"critical\"}\n"
                "0 passed, 1 failed\n");
}

TEST_F(RuleTestTest, AnnotationsAreComparedWhenGiven) {
  const auto path =
      Write("ann.test.yaml",
            StalledTest("          - alertname: SyncStalled\n"
                        "            labels: {profile: crm, entity: account, severity: critical}\n"
                        "            annotations: {summary: wrong}\n"));
  std::ostringstream out;
  EXPECT_EQ(RunRuleTestFiles({path}, out), 1);
  EXPECT_THAT(out.str(), HasSubstr("-   SyncStalled{entity=\"account\", profile=\"crm\", "
                                   "severity=\"critical\"} annotations{summary=\"wrong\"}"));
  EXPECT_THAT(out.str(), HasSubstr("summary=\"account in crm has not synced for 21m\""));
}

TEST_F(RuleTestTest, AtMustBeAMultipleOfInterval) {
  EXPECT_THAT(
      ProblemsOf(R"(rule_files: [rules/sl.yaml]
tests:
  - interval: 1m
    alerts:
      - at: 90s
        firing: []
)"),
      ::testing::ElementsAre("bad.test.yaml:5:13: at 90s is not a multiple of interval 1m"));
}

TEST_F(RuleTestTest, MalformedRowsPointAtTheirValue) {
  EXPECT_THAT(
      ProblemsOf(R"(rule_files: [rules/sl.yaml]
tests:
  - states:
      - at: 0m
        synapselinkprofile: [{name: crm, profilestate: Running}]
        synapselinkprofileentitystate:
          - {profile: erp, entityname: account, syncstat: InProgress}
          - {profile: crm, lastsynceddatatime: yesterday}
    alerts: []
)"),
      ::testing::ElementsAre(
          ::testing::StartsWith("bad.test.yaml:5:56: unknown label \"Running\" of profilestate "
                                "(known: Inactive, Active, Error"),
          "bad.test.yaml:7:49: unknown key \"syncstat\" in synapselinkprofileentitystate row "
          "(did you mean \"syncstate\"?)",
          ::testing::StartsWith("bad.test.yaml:8:48: lastsynceddatatime: invalid datetime "
                                "\"yesterday\""),
          "bad.test.yaml:7:23: no synapselinkprofile row named \"erp\" in this state (a lookup "
          "is written as the referenced row's name)"));
}

// linkwatch_sync rows (sync.<col>) are checked like the other tables' rows.
TEST_F(RuleTestTest, SyncRecordRowsAreChecked) {
  EXPECT_THAT(ProblemsOf(R"(rule_files: [rules/sl.yaml]
tests:
  - states:
      - at: 0m
        linkwatch_sync:
          - {profile: crm, entityname: account, lastbreaktim: 2026-01-01T00:00:00Z}
          - {profile: crm, entityname: lead, lastbreaktime: soon, errorattempts: many}
    alerts: []
)"),
              ::testing::ElementsAre(
                  "bad.test.yaml:6:49: unknown key \"lastbreaktim\" in linkwatch_sync row (did you "
                  "mean \"lastbreaktime\"?)",
                  ::testing::StartsWith("bad.test.yaml:7:61: lastbreaktime: invalid datetime"),
                  "bad.test.yaml:7:82: errorattempts must be a number"));
}

TEST_F(RuleTestTest, StructuralMistakes) {
  EXPECT_THAT(ProblemsOf("rule_files: [rules/sl.yaml]\ntest: []\n"),
              ::testing::ElementsAre("bad.test.yaml:2:1: unknown key \"test\" in rule test file "
                                     "(did you mean \"tests\"?)",
                                     "bad.test.yaml:1:1: rule test file has no \"tests\""));
  EXPECT_THAT(ProblemsOf("rule_files: [rules/none.yaml]\ntests: []\n"),
              ::testing::ElementsAre(::testing::StartsWith(
                  "bad.test.yaml:1:14: no rule file matches \"rules/none.yaml\"")));
  EXPECT_THAT(ProblemsOf(R"(rule_files: [rules/sl.yaml]
tests:
  - alerts:
      - at: 0m
        firing: [{labels: {severity: critical}}]
      - at: 1m
)"),
              ::testing::ElementsAre(
                  "bad.test.yaml:5:18: firing alert has no \"alertname\"",
                  "bad.test.yaml:6:9: alerts entry has no \"firing\" (write firing: [] for none)"));
}

TEST_F(RuleTestTest, RuleFileProblemsAreReported) {
  Write("rules/broken.yaml",
        "groups:\n  - name: b\n    rules:\n      - alert: X\n        expr: syncstate == 'Nope'\n");
  auto problems = ProblemsOf("rule_files: [rules/broken.yaml]\ntests: []\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("broken.yaml:5:28: unknown label \"Nope\""));
}

TEST_F(RuleTestTest, GlobsInRuleFilesAndCodesInRows) {
  const auto path = Write("glob.test.yaml", R"(rule_files: ["rules/*.yaml"]
tests:
  - name: codes and ids
    interval: 30s
    states:
      - at: 0s
        synapselinkprofile: [{synapselinkprofileid: 11111111-1111-4111-8111-111111111111, name: crm, profilestate: 2}]
    alerts:
      - at: 30s
        firing: [{alertname: ProfileError, labels: {profile: crm, severity: critical}}]
)");
  std::ostringstream out;
  EXPECT_EQ(RunRuleTestFiles({path}, out), 0) << out.str();
}

// Issue 7 point 17: repeated keys in a rule-test file are errors too.
TEST_F(RuleTestTest, DuplicateKeysAreErrors) {
  EXPECT_THAT(ProblemsOf("rule_files: [rules/sl.yaml]\ntests: []\ntests: []\n"),
              ::testing::ElementsAre(
                  "bad.test.yaml:3:1: duplicate key \"tests\" (first at line 2, column 1)"));
}

// Issue 7 point 13: test rows follow the state read's rule for integers.
TEST_F(RuleTestTest, IntegerColumnsTakeWholeNumbersOnly) {
  EXPECT_THAT(ProblemsOf(R"(rule_files: [rules/sl.yaml]
tests:
  - states:
      - at: 0m
        synapselinkprofile: [{name: crm, profilestate: Active}]
        synapselinkprofileentitystate:
          - {profile: crm, entityname: a, crmrecordcount: 2.5, lakerecordcount: 1e308}
    alerts: []
)"),
              ::testing::ElementsAre(
                  "bad.test.yaml:7:59: crmrecordcount must be a whole number within int64",
                  "bad.test.yaml:7:81: lakerecordcount must be a whole number within int64"));
}

}  // namespace
}  // namespace linkwatch
