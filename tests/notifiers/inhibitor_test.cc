#include "notifiers/inhibitor.h"

#include <gtest/gtest.h>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {

using testutil::MakeAlert;

std::vector<InhibitRule> Parse(const std::string& yaml, Problems& problems) {
  return ParseInhibitRules(LoadYamlString(yaml, "config.yaml")["inhibit_rules"], "config.yaml",
                           problems);
}

std::vector<InhibitRule> ProfileErrorRule() {
  Problems p("config.yaml");
  auto rules = Parse(R"(
inhibit_rules:
  - source_matchers: ['alertname="ProfileError"']
    target_matchers: ['severity!="none"']
    equal: [profile]
)",
                     p);
  EXPECT_TRUE(p.empty());
  return rules;
}

TEST(InhibitorTest, AFiringSourceMutesTargetsWithEqualLabels) {
  Inhibitor inhibitor(ProfileErrorRule());
  Alert source =
      MakeAlert({{"alertname", "ProfileError"}, {"profile", "crm"}, {"severity", "critical"}});
  Alert same =
      MakeAlert({{"alertname", "SyncStalled"}, {"profile", "crm"}, {"severity", "critical"}});
  Alert other =
      MakeAlert({{"alertname", "SyncStalled"}, {"profile", "sales"}, {"severity", "critical"}});
  Alert none = MakeAlert({{"alertname", "Info"}, {"profile", "crm"}, {"severity", "none"}});
  inhibitor.Observe({source, same, other, none});
  EXPECT_TRUE(inhibitor.Muted(same, TimePoint{}));
  EXPECT_EQ(inhibitor.InhibitedBy(same), std::vector<std::string>{source.fingerprint});
  EXPECT_FALSE(inhibitor.Muted(other, TimePoint{}));
  EXPECT_FALSE(inhibitor.Muted(none, TimePoint{}));
  EXPECT_FALSE(inhibitor.Muted(source, TimePoint{})) << "an alert never inhibits itself";

  source.state = AlertState::kResolved;
  inhibitor.Observe({source, same});
  EXPECT_FALSE(inhibitor.Muted(same, TimePoint{})) << "only a firing source inhibits";
}

TEST(InhibitorTest, AMissingEqualLabelOnBothSidesCountsAsEqual) {
  Inhibitor inhibitor(ProfileErrorRule());
  Alert source = MakeAlert({{"alertname", "ProfileError"}, {"severity", "critical"}});
  Alert target = MakeAlert({{"alertname", "SyncStalled"}, {"severity", "critical"}});
  Alert with =
      MakeAlert({{"alertname", "SyncStalled"}, {"severity", "critical"}, {"profile", "crm"}});
  inhibitor.Observe({source});
  EXPECT_TRUE(inhibitor.Muted(target, TimePoint{}));
  EXPECT_FALSE(inhibitor.Muted(with, TimePoint{}));
}

TEST(InhibitorTest, AlertsMatchingBothSidesDoNotInhibitEachOther) {
  // Alertmanager's excludeTwoSidedMatch: two ProfileErrors of one profile.
  Problems p("config.yaml");
  Inhibitor inhibitor(Parse(R"(
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity=~"critical|warning"']
    equal: [profile]
)",
                            p));
  Alert a = MakeAlert({{"alertname", "A"}, {"profile", "crm"}, {"severity", "critical"}});
  Alert b = MakeAlert({{"alertname", "B"}, {"profile", "crm"}, {"severity", "critical"}});
  Alert w = MakeAlert({{"alertname", "W"}, {"profile", "crm"}, {"severity", "warning"}});
  inhibitor.Observe({a, b, w});
  EXPECT_FALSE(inhibitor.Muted(a, TimePoint{}));
  EXPECT_FALSE(inhibitor.Muted(b, TimePoint{}));
  EXPECT_TRUE(inhibitor.Muted(w, TimePoint{}));
}

TEST(InhibitorTest, ProblemsNameTheLine) {
  Problems p("config.yaml");
  Parse(R"(
inhibit_rules:
  - source_matchers: ['alertname="ProfileError"']
    target_matcher: ['severity!="none"']
  - source_matchers: ['alertname=~"("']
    target_matchers: ['a="b"']
)",
        p);
  // The unknown key (with the nearest known one), the rule's missing side,
  // and the bad regex, each at its line.
  ASSERT_EQ(p.list().size(), 3u);
  const std::string unknown = p.list()[0].ToString();
  EXPECT_NE(unknown.find("config.yaml:4:"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean \"target_matchers\""), std::string::npos) << unknown;
  EXPECT_NE(p.list()[1].ToString().find("config.yaml:3:"), std::string::npos);
  const std::string regex = p.list()[2].ToString();
  EXPECT_NE(regex.find("config.yaml:5:"), std::string::npos) << regex;
  EXPECT_NE(regex.find("bad regular expression"), std::string::npos) << regex;
}

}  // namespace
}  // namespace linkwatch::notifiers
