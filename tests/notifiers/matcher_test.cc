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

// Alertmanager anchors as ^(?:re)$: an alternation is anchored as a whole.
TEST(MatcherTest, AnAlternationIsAnchoredAsAWhole) {
  EXPECT_TRUE(One("a=~\"x|y\"").Matches({{"a", "y"}}));
  EXPECT_FALSE(One("a=~\"x|y\"").Matches({{"a", "xy"}}));
  EXPECT_FALSE(One("a=~\"x|y\"").Matches({{"a", "ay"}}));
  EXPECT_FALSE(One("a=~\"x|y\"").Matches({{"a", "xa"}}));
}

// RE2 is the syntax of Alertmanager's Go regexp: Perl classes work, and what
// Go refuses (backreferences, lookaround) is refused with a clear error
// rather than matched differently than Alertmanager would.
TEST(MatcherTest, RegexSyntaxIsAlertmanagers) {
  EXPECT_TRUE(One("a=~\"\\d+\"").Matches({{"a", "2026"}}));
  EXPECT_TRUE(One("a=~\"(?i)CRM\"").Matches({{"a", "crm"}}));
  EXPECT_FALSE(One("a=~\".*\"").Matches({{"a", "two\nlines"}}));  // . is not \n
  for (const char* bad : {"a=~\"(x)\\1\"", "a=~\"x(?=y)\"", "a=~\"(x\""}) {
    auto m = ParseMatchers(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_NE(m.message().find("bad regular expression"), std::string::npos) << m.message();
  }
}

// A pattern that backtracking engines take exponential time over (std::regex
// on this input does not finish) is matched in linear time.
TEST(MatcherTest, AHostileRegexIsMatchedInLinearTime) {
  const std::string many_a(10000, 'a');
  EXPECT_FALSE(One("a=~\"(a+)+$\"").Matches({{"a", many_a + "b"}}));
  EXPECT_TRUE(One("a=~\"(a+)+$\"").Matches({{"a", many_a}}));
  EXPECT_FALSE(One("a=~\"(a|aa)+c\"").Matches({{"a", many_a}}));
}

// Alertmanager's unescaping: \", \\ and \n; any other backslash stays.
TEST(MatcherTest, UnescapesAsAlertmanagerAndFormatsBack) {
  EXPECT_EQ(One(R"(a="say \"hi\"")").value(), "say \"hi\"");
  EXPECT_EQ(One(R"(a="back\\slash")").value(), "back\\slash");
  EXPECT_EQ(One(R"(a="two\nlines")").value(), "two\nlines");
  EXPECT_EQ(One(R"(a=~"\d+\.x")").value(), "\\d+\\.x");
  for (const char* text : {R"(a="say \"hi\"")", R"(a="back\\slash")", R"(a=~"\d+\.x")"}) {
    const Matcher m = One(text);
    EXPECT_EQ(One(m.ToString()).value(), m.value()) << text;
  }
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
