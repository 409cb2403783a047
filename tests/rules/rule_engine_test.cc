#include "rules/rule_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <filesystem>

#include "agent/state/state_store.h"
#include "rules/rules_metrics.h"
#include "tests/rules/test_snapshot.h"

namespace linkwatch {
namespace {

using rules::testing::AddRow;
using rules::testing::N;
using rules::testing::T;
using state::TableId;

// Engines whose metrics a test does not read count into this registry.
RulesMetrics& Unread() {
  static prometheus::Registry registry;
  static RulesMetrics metrics(registry);
  return metrics;
}

const double kT0 = 1767225600;  // 2026-01-01T00:00:00Z
double At(double minutes) { return kT0 + minutes * 60; }

std::vector<RuleGroup> Rules(const std::string& yaml) {
  return LoadRuleString(yaml, "r.yaml", Millis(60000));
}

// A rule "Big" firing for entity rows whose crmrecordcount > 10.
std::string BigRule(const std::string& extra = "for: 5m") {
  return "groups:\n"
         "  - name: g\n"
         "    rules:\n"
         "      - alert: Big\n"
         "        expr: crmrecordcount > 10\n"
         "        " +
         extra +
         "\n"
         "        labels: {severity: warning}\n"
         "        annotations: {summary: '{{ entityname }} has {{ $value }} rows'}\n";
}

// Profile crm with one entity row per (name, count); a negative count is null.
state::Snapshot Snap(std::vector<std::pair<std::string, double>> rows) {
  state::Snapshot s;
  AddRow(s, TableId::kProfile,
         {{"synapselinkprofileid", T("p-1")}, {"name", T("crm")}, {"profilestate", N(1)}});
  for (const auto& [name, count] : rows) {
    AddRow(s, TableId::kEntityState,
           {{"entityname", T(name)},
            {"profile", T("p-1")},
            {"crmrecordcount", count < 0 ? state::CellValue::Null() : N(count)}});
  }
  return s;
}

const Alert* Find(const std::vector<Alert>& alerts, const std::string& alertname,
                  const std::string& entity = "", const std::string& source = "") {
  for (const auto& a : alerts) {
    if (a.labels.at("alertname") != alertname) continue;
    if (!entity.empty() && (!a.labels.count("entity") || a.labels.at("entity") != entity)) continue;
    if (!source.empty() && a.labels.at("source") != source) continue;
    return &a;
  }
  return nullptr;
}

TEST(RuleEngineTest, PendingFromFirstTrueThenFiringOnceForHasPassed) {
  RuleEngine engine(Rules(BigRule()), nullptr, Unread());
  EXPECT_TRUE(engine.Evaluate("local", Snap({{"account", 20}}), At(0), true));
  auto alerts = engine.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kPending);
  EXPECT_EQ(alerts[0].active_at, At(0));
  EXPECT_FALSE(engine.Evaluate("local", Snap({{"account", 20}}), At(4), true));
  EXPECT_EQ(engine.Alerts()[0].state, AlertState::kPending);
  EXPECT_TRUE(engine.Evaluate("local", Snap({{"account", 21}}), At(5), true));
  alerts = engine.Alerts();
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
  EXPECT_EQ(alerts[0].active_at, At(0));
  EXPECT_EQ(alerts[0].starts_at, At(5));
  EXPECT_EQ(alerts[0].value, "21");
  EXPECT_EQ(alerts[0].annotations.at("summary"), "account has 21 rows");
}

TEST(RuleEngineTest, ForZeroFiresAtTheFirstEvaluation) {
  RuleEngine engine(Rules(BigRule("for: 0s")), nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}}), At(0), true);
  ASSERT_EQ(engine.Alerts().size(), 1u);
  EXPECT_EQ(engine.Alerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(engine.Alerts()[0].starts_at, At(0));
}

TEST(RuleEngineTest, LabelsAreBaseLabelsPlusTemplatedRuleLabels) {
  RuleEngine engine(Rules(R"(groups:
  - name: g
    rules:
      - alert: Big
        expr: crmrecordcount > 10
        labels: {severity: warning, team: "{{ profile }}-team", empty: "{{ lakerecordcount }}"}
)"),
                    nullptr, Unread());
  engine.Evaluate("prod", Snap({{"account", 20}}), At(0), true);
  ASSERT_EQ(engine.Alerts().size(), 1u);
  const auto all = engine.Alerts();
  const Alert& a = all[0];
  // "empty" rendered "" (null) and is dropped, as in Prometheus.
  EXPECT_EQ(a.labels, (LabelSet{{"alertname", "Big"},
                                {"source", "prod"},
                                {"profile", "crm"},
                                {"entity", "account"},
                                {"severity", "warning"},
                                {"team", "crm-team"}}));
  EXPECT_EQ(a.fingerprint, LabelFingerprint(a.labels));
}

TEST(RuleEngineTest, FalseOrNullResolvesAndResolvedStaysUntilForgotten) {
  RuleEngine engine(Rules(BigRule("for: 0s")), nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}}), At(0), true);
  EXPECT_TRUE(engine.Evaluate("local", Snap({{"account", -1}}), At(1), true));  // null
  auto alerts = engine.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kResolved);
  EXPECT_EQ(alerts[0].ends_at, At(1));
  EXPECT_EQ(alerts[0].starts_at, At(0));
  engine.Evaluate("local", Snap({{"account", 5}}), At(2), true);
  EXPECT_EQ(engine.Alerts().size(), 1u);
  engine.Forget({alerts[0].fingerprint});
  EXPECT_TRUE(engine.Alerts().empty());
}

TEST(RuleEngineTest, ForgetKeepsAnAlertThatFiresAgain) {
  RuleEngine engine(Rules(BigRule("for: 0s")), nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}}), At(0), true);
  engine.Evaluate("local", Snap({{"account", 1}}), At(1), true);
  const std::string fp = engine.Alerts()[0].fingerprint;
  engine.Evaluate("local", Snap({{"account", 20}}), At(2), true);  // firing again
  ASSERT_EQ(engine.Alerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(engine.Alerts()[0].starts_at, At(2));
  engine.Forget({fp});
  EXPECT_EQ(engine.Alerts().size(), 1u);
}

TEST(RuleEngineTest, PendingAlertThatTurnsFalseIsDropped) {
  RuleEngine engine(Rules(BigRule("for: 5m")), nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}}), At(0), true);
  EXPECT_TRUE(engine.Evaluate("local", Snap({{"account", 1}}), At(3), true));
  EXPECT_TRUE(engine.Alerts().empty());
  // A new run of truth starts `for` again.
  engine.Evaluate("local", Snap({{"account", 20}}), At(4), true);
  engine.Evaluate("local", Snap({{"account", 20}}), At(8), true);
  EXPECT_EQ(engine.Alerts()[0].state, AlertState::kPending);
  engine.Evaluate("local", Snap({{"account", 20}}), At(9), true);
  EXPECT_EQ(engine.Alerts()[0].state, AlertState::kFiring);
}

TEST(RuleEngineTest, KeepFiringForHoldsTheAlertAfterTheConditionClears) {
  RuleEngine engine(Rules(BigRule("for: 0s\n        keep_firing_for: 3m")), nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}}), At(0), true);
  for (int m = 1; m <= 3; ++m) {
    EXPECT_FALSE(engine.Evaluate("local", Snap({{"account", 1}}), At(m), true)) << m;
    EXPECT_EQ(engine.Alerts()[0].state, AlertState::kFiring) << m;
  }
  // False for longer than keep_firing_for (last true at 0m): resolved at 4m.
  EXPECT_TRUE(engine.Evaluate("local", Snap({{"account", 1}}), At(4), true));
  EXPECT_EQ(engine.Alerts()[0].state, AlertState::kResolved);
  EXPECT_EQ(engine.Alerts()[0].ends_at, At(4));
}

TEST(RuleEngineTest, KeepFiringForRestartsWhenTheConditionHoldsAgain) {
  RuleEngine engine(Rules(BigRule("for: 0s\n        keep_firing_for: 2m")), nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}}), At(0), true);
  engine.Evaluate("local", Snap({{"account", 1}}), At(1), true);
  engine.Evaluate("local", Snap({{"account", 20}}), At(2), true);
  engine.Evaluate("local", Snap({{"account", 1}}), At(3), true);
  engine.Evaluate("local", Snap({{"account", 1}}), At(4), true);
  EXPECT_EQ(engine.Alerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(engine.Alerts()[0].starts_at, At(0));
  engine.Evaluate("local", Snap({{"account", 1}}), At(5), true);
  EXPECT_EQ(engine.Alerts()[0].state, AlertState::kResolved);
}

TEST(RuleEngineTest, AlertOfARowThatDisappearsResolves) {
  RuleEngine engine(Rules(BigRule("for: 0s")), nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}, {"contact", 30}}), At(0), true);
  ASSERT_EQ(engine.Alerts().size(), 2u);
  engine.Evaluate("local", Snap({{"account", 20}}), At(1), true);
  auto alerts = engine.Alerts();
  EXPECT_EQ(Find(alerts, "Big", "account")->state, AlertState::kFiring);
  EXPECT_EQ(Find(alerts, "Big", "contact")->state, AlertState::kResolved);
}

TEST(RuleEngineTest, EachSourceKeepsItsOwnAlerts) {
  RuleEngine engine(Rules(BigRule("for: 0s")), nullptr, Unread());
  engine.Evaluate("a", Snap({{"account", 20}}), At(0), true);
  engine.Evaluate("b", Snap({{"account", 1}}), At(1), true);
  auto alerts = engine.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].labels.at("source"), "a");
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
}

TEST(RuleEngineTest, RowsWithTheSameLabelsAreOneAlert) {
  RuleEngine engine(Rules(BigRule("for: 0s")), nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}, {"account", 30}}), At(0), true);
  EXPECT_EQ(engine.Alerts().size(), 1u);
}

TEST(RuleEngineTest, GroupsRunOnTheirIntervalUnlessForced) {
  RuleEngine engine(Rules(R"(groups:
  - name: g
    interval: 1m
    rules:
      - alert: Big
        expr: crmrecordcount > 10
        for: 10m
)"),
                    nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}}), At(0), false);  // first: always
  ASSERT_EQ(engine.Alerts().size(), 1u);
  // 30s later the group is not due: the condition is not looked at.
  EXPECT_FALSE(engine.Evaluate("local", Snap({{"account", 1}}), At(0.5), false));
  EXPECT_EQ(engine.Alerts().size(), 1u);
  // A forced evaluation (the data changed) runs it at once...
  EXPECT_TRUE(engine.Evaluate("local", Snap({{"account", 1}}), At(0.5), true));
  EXPECT_TRUE(engine.Alerts().empty());
  // ...without shifting the schedule: due again at 1m.
  engine.Evaluate("local", Snap({{"account", 20}}), At(1), false);
  EXPECT_EQ(engine.Alerts().size(), 1u);
}

TEST(RuleEngineTest, TemplateErrorKeepsTheAlertAndIsFlagged) {
  RuleEngine engine(Rules(R"(groups:
  - name: g
    rules:
      - alert: Big
        expr: crmrecordcount > 10
        annotations: {summary: "since {{ datetime(entityname) }}", ok: "{{ entityname }}"}
)"),
                    nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}}), At(0), true);
  ASSERT_EQ(engine.Alerts().size(), 1u);
  const auto all = engine.Alerts();
  const Alert& a = all[0];
  EXPECT_EQ(a.state, AlertState::kFiring);
  EXPECT_TRUE(a.template_error);
  EXPECT_THAT(a.annotations.at("summary"), ::testing::StartsWith("template error in {{ datetime"));
  EXPECT_EQ(a.annotations.at("ok"), "account");
}

TEST(RuleEngineTest, SourceUnreachableFiresAfterTheThresholdAndResolvesWhenUp) {
  RuleEngine engine({}, nullptr, Unread());
  EXPECT_TRUE(engine.SourceDown("prod", At(0), 60, At(0), "connection refused"));
  auto alerts = engine.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(
      alerts[0].labels,
      (LabelSet{{"alertname", "SourceUnreachable"}, {"source", "prod"}, {"severity", "critical"}}));
  EXPECT_EQ(alerts[0].state, AlertState::kPending);
  EXPECT_EQ(alerts[0].annotations.at("description"), "connection refused");
  EXPECT_FALSE(engine.SourceDown("prod", At(0), 60, At(0.5)));
  EXPECT_TRUE(engine.SourceDown("prod", At(0), 60, At(1)));
  EXPECT_EQ(engine.Alerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(engine.Alerts()[0].starts_at, At(1));
  EXPECT_TRUE(engine.SourceUp("prod", At(1.5)));
  EXPECT_EQ(engine.Alerts()[0].state, AlertState::kResolved);
  EXPECT_EQ(engine.Alerts()[0].ends_at, At(1.5));
  engine.Forget({engine.Alerts()[0].fingerprint});
  EXPECT_TRUE(engine.Alerts().empty());
  // Down briefly: pending, then dropped.
  engine.SourceDown("prod", At(2), 60, At(2));
  EXPECT_TRUE(engine.SourceUp("prod", At(2.5)));
  EXPECT_TRUE(engine.Alerts().empty());
  EXPECT_FALSE(engine.SourceUp("prod", At(3)));
}

TEST(RuleEngineTest, RecordsEvaluationDurationPerGroup) {
  prometheus::Registry registry;
  RulesMetrics metrics(registry);
  RuleEngine engine(Rules(BigRule()), nullptr, metrics);
  engine.Evaluate("local", Snap({{"account", 20}}), At(0), true);
  engine.Evaluate("local", Snap({{"account", 20}}), At(1), true);
  bool found = false;
  for (const auto& family : registry.Collect()) {
    if (family.name != "linkwatch_rule_evaluation_duration_seconds") continue;
    for (const auto& m : family.metric) {
      ASSERT_EQ(m.label.size(), 1u);
      EXPECT_EQ(m.label[0].name, "group");
      EXPECT_EQ(m.label[0].value, "g");
      EXPECT_EQ(m.histogram.sample_count, 2u);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

class RuleEnginePersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lw_engine_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A new "process": its own state store connection, alert store and engine.
  struct Process {
    std::unique_ptr<state::StateStore> store;
    std::unique_ptr<AlertStore> alerts;
    std::unique_ptr<RuleEngine> engine;
  };
  Process Start(const std::string& rules) {
    Process p;
    auto s = state::StateStore::Open((dir_ / "state.db").string());
    EXPECT_TRUE(s.ok()) << s.message();
    p.store = std::move(s).value();
    p.alerts = std::make_unique<AlertStore>(p.store->db());
    p.engine = std::make_unique<RuleEngine>(Rules(rules), p.alerts.get(), Unread());
    EXPECT_TRUE(p.engine->Restore().ok());
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(RuleEnginePersistenceTest, ARestartNeitherRestartsForNorForgetsFiringOrResolved) {
  {
    auto p = Start(BigRule("for: 5m"));
    p.engine->Evaluate("local", Snap({{"account", 20}}), At(0), true);
  }
  {
    auto p = Start(BigRule("for: 5m"));
    auto alerts = p.engine->Alerts();
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0].state, AlertState::kPending);
    EXPECT_EQ(alerts[0].active_at, At(0));
    EXPECT_EQ(alerts[0].annotations.at("summary"), "account has 20 rows");
    // `for` counts from the first activeAt, not from the restart.
    p.engine->Evaluate("local", Snap({{"account", 20}}), At(5), true);
    EXPECT_EQ(p.engine->Alerts()[0].state, AlertState::kFiring);
  }
  {
    auto p = Start(BigRule("for: 5m"));
    ASSERT_EQ(p.engine->Alerts().size(), 1u);
    EXPECT_EQ(p.engine->Alerts()[0].state, AlertState::kFiring);
    EXPECT_EQ(p.engine->Alerts()[0].starts_at, At(5));
    p.engine->Evaluate("local", Snap({{"account", 1}}), At(6), true);
  }
  std::string fp;
  {
    auto p = Start(BigRule("for: 5m"));
    ASSERT_EQ(p.engine->Alerts().size(), 1u);
    const Alert a = p.engine->Alerts()[0];
    EXPECT_EQ(a.state, AlertState::kResolved);
    EXPECT_EQ(a.starts_at, At(5));
    EXPECT_EQ(a.ends_at, At(6));
    EXPECT_EQ(a.labels.at("entity"), "account");
    p.engine->Forget({a.fingerprint});
  }
  {
    auto p = Start(BigRule("for: 5m"));
    EXPECT_TRUE(p.engine->Alerts().empty());
  }
}

TEST_F(RuleEnginePersistenceTest, AlertsAreWrittenOnTransitionsNotOnEveryEvaluation) {
  auto p = Start(BigRule("for: 10m"));
  auto stored = [&] {
    auto st = p.store->db().Prepare("SELECT state, updated_at, value FROM linkwatch_alert");
    EXPECT_TRUE(st.ok());
    EXPECT_TRUE(st->Step());
    return st->Text(0) + "@" + std::to_string(static_cast<long long>(st->Real(1) - kT0)) + "=" +
           st->Text(2);
  };
  p.engine->Evaluate("local", Snap({{"account", 20}}), At(0), true);
  p.engine->Evaluate("local", Snap({{"account", 21}}), At(1), true);  // only $value changed
  EXPECT_EQ(stored(), "pending@0=20");
  p.engine->Evaluate("local", Snap({{"account", 22}}), At(10), true);
  EXPECT_EQ(stored(), "firing@600=22");
}

TEST_F(RuleEnginePersistenceTest, KeepFiringForSurvivesARestart) {
  const std::string rules = BigRule("for: 0s\n        keep_firing_for: 10m");
  {
    auto p = Start(rules);
    p.engine->Evaluate("local", Snap({{"account", 20}}), At(0), true);
  }
  auto p = Start(rules);
  p.engine->Evaluate("local", Snap({{"account", 1}}), At(5), true);
  EXPECT_EQ(p.engine->Alerts()[0].state, AlertState::kFiring);
  p.engine->Evaluate("local", Snap({{"account", 1}}), At(11), true);
  EXPECT_EQ(p.engine->Alerts()[0].state, AlertState::kResolved);
}

TEST_F(RuleEnginePersistenceTest, SourceUnreachableIsPersisted) {
  {
    auto p = Start(BigRule());
    p.engine->SourceDown("prod", At(0), 60, At(2));
  }
  auto p = Start(BigRule());
  ASSERT_EQ(p.engine->Alerts().size(), 1u);
  EXPECT_EQ(p.engine->Alerts()[0].state, AlertState::kFiring);
  p.engine->SourceUp("prod", At(3));
  EXPECT_EQ(p.engine->Alerts()[0].state, AlertState::kResolved);
}

TEST_F(RuleEnginePersistenceTest, AlertsOfARemovedRuleResolveAfterARestart) {
  {
    auto p = Start(BigRule("for: 0s"));
    p.engine->Evaluate("local", Snap({{"account", 20}}), At(0), true);
  }
  auto p = Start("groups: []\n");
  ASSERT_EQ(p.engine->Alerts().size(), 1u);
  EXPECT_EQ(p.engine->Alerts()[0].state, AlertState::kFiring);
  EXPECT_TRUE(p.engine->Evaluate("local", Snap({}), At(1), true));
  EXPECT_EQ(p.engine->Alerts()[0].state, AlertState::kResolved);
  EXPECT_EQ(p.engine->Alerts()[0].ends_at, At(1));
}

TEST(RuleEngineReplaceTest, RulesThatStillExistKeepTheirAlerts) {
  RuleEngine engine(Rules(BigRule("for: 5m")), nullptr, Unread());
  engine.Evaluate("local", Snap({{"account", 20}, {"contact", 1}}), At(0), true);
  engine.Replace(Rules(BigRule("for: 5m") + R"(      - alert: Small
        expr: crmrecordcount < 10
)"));
  auto alerts = engine.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].active_at, At(0));
  engine.Evaluate("local", Snap({{"account", 20}, {"contact", 1}}), At(5), true);
  alerts = engine.Alerts();
  EXPECT_EQ(Find(alerts, "Big", "account")->state, AlertState::kFiring);
  EXPECT_EQ(Find(alerts, "Small", "contact")->state, AlertState::kFiring);
  // Removing a rule resolves its firing alerts at the next evaluation.
  engine.Replace(Rules(R"(groups:
  - name: g
    rules:
      - alert: Small
        expr: crmrecordcount < 10
)"));
  EXPECT_EQ(Find(engine.Alerts(), "Big", "account")->state, AlertState::kFiring);
  engine.Evaluate("local", Snap({{"account", 20}, {"contact", 1}}), At(6), true);
  EXPECT_EQ(Find(engine.Alerts(), "Big", "account")->state, AlertState::kResolved);
  EXPECT_EQ(Find(engine.Alerts(), "Small", "contact")->state, AlertState::kFiring);
}

}  // namespace
}  // namespace linkwatch
