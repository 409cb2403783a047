#include "notifiers/matcher.h"

#include <gtest/gtest.h>

namespace linkwatch::notifiers {
namespace {

Matcher One(const std::string& text) {
  auto m = ParseMatchers(text);
  EXPECT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m.ok() ? m->size() : 0u, 1u);
  return m.ok() ? m->at(0) : *Matcher::Make("x", Matcher::Op::kEqual, "");
}

TEST(MatcherTest, ParsesTheFourOperators) {
  const LabelSet crit{{"severity", "critical"}, {"team", "data"}};
  EXPECT_TRUE(One("severity=\"critical\"").Matches(crit));
  EXPECT_FALSE(One("severity!=\"critical\"").Matches(crit));
  EXPECT_TRUE(One("team=~\"data|sync\"").Matches(crit));
  EXPECT_FALSE(One("team!~\"data|sync\"").Matches(crit));
  EXPECT_EQ(One("severity=\"critical\"").op(), Matcher::Op::kEqual);
  EXPECT_EQ(One("a!=\"b\"").op(), Matcher::Op::kNotEqual);
  EXPECT_EQ(One("a=~\"b\"").op(), Matcher::Op::kRegex);
  EXPECT_EQ(One("a!~\"b\"").op(), Matcher::Op::kNotRegex);
}

TEST(MatcherTest, RegexesAreAnchored) {
  EXPECT_FALSE(One("team=~\"data\"").Matches({{"team", "bigdata"}}));
  EXPECT_FALSE(One("team=~\"data\"").Matches({{"team", "database"}}));
  EXPECT_TRUE(One("team=~\"data.*\"").Matches({{"team", "database"}}));
  EXPECT_TRUE(One("team!~\"data\"").Matches({{"team", "database"}}));
}

TEST(MatcherTest, MissingLabelIsTheEmptyString) {
  EXPECT_TRUE(One("team=\"\"").Matches({}));
  EXPECT_TRUE(One("team!=\"x\"").Matches({}));
  EXPECT_FALSE(One("team=~\".+\"").Matches({}));
}

TEST(MatcherTest, AcceptsUnquotedValuesSpacesAndLists) {
  EXPECT_EQ(One("severity = critical").value(), "critical");
  EXPECT_EQ(One("a=\"x\\\"y\\\\z\"").value(), "x\"y\\z");
  auto list = ParseMatchers("{alertname=\"SyncStalled\", profile=~\"crm|erp\"}");
  ASSERT_TRUE(list.ok()) << list.message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE(MatchAll(*list, {{"alertname", "SyncStalled"}, {"profile", "erp"}}));
  EXPECT_FALSE(MatchAll(*list, {{"alertname", "SyncStalled"}, {"profile", "hr"}}));
  EXPECT_TRUE(ParseMatchers("a=b,c!=d").ok());
}

TEST(MatcherTest, RejectsMalformedMatchers) {
  for (const char* bad : {"", "severity", "=x", "a==\"b\"x", "a=\"unterminated", "{a=\"b\"",
                          "a=~\"(\"", "1a=\"b\"", "a=\"b\" c=\"d\""}) {
    EXPECT_FALSE(ParseMatchers(bad).ok()) << bad;
  }
  auto bad_regex = ParseMatchers("team=~\"(\"");
  EXPECT_NE(bad_regex.message().find("bad regular expression"), std::string::npos);
}

TEST(MatcherTest, FormatsLikeAlertmanager) {
  auto list = ParseMatchers("severity=critical, team!~\"a\\\"b\"");
  ASSERT_TRUE(list.ok()) << list.message();
  EXPECT_EQ(FormatMatchers(*list), "{severity=\"critical\",team!~\"a\\\"b\"}");
  EXPECT_EQ(FormatMatchers({}), "{}");
}

}  // namespace
}  // namespace linkwatch::notifiers
