#include "agent/core/time_format.h"

#include <gtest/gtest.h>

#include <limits>

namespace linkwatch {
namespace {

TEST(DurationTest, ParsesPrometheusStyle) {
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("30s")->count(), 30000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5400000);
  EXPECT_EQ(ParseDuration("1d")->count(), 86400000);
  EXPECT_EQ(ParseDuration("0")->count(), 0);
}

TEST(DurationTest, RejectsMalformed) {
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("10").ok());
  EXPECT_FALSE(ParseDuration("5x").ok());
  EXPECT_FALSE(ParseDuration("30m1h").ok());
  EXPECT_FALSE(ParseDuration("-5s").ok());
}

// Regression (found by the rule-file fuzzer): a huge value overflowed.
TEST(DurationTest, RejectsOverflowInsteadOfWrapping) {
  auto d = ParseDuration("9999999999y");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.message().find("out of range"), std::string::npos);
  EXPECT_FALSE(ParseDuration("99999999999999999999s").ok());
}

TEST(DurationTest, FormatsCompactly) {
  EXPECT_EQ(FormatDuration(Millis(21 * 60000)), "21m");
  EXPECT_EQ(FormatDuration(Millis(3900000)), "1h5m");
  EXPECT_EQ(FormatDuration(Millis(1500)), "1s500ms");
  EXPECT_EQ(FormatDurationSeconds(1261.7), "21m1s");
}

TEST(DateTimeTest, RoundTripsIso8601) {
  auto t = ParseDateTime("2026-01-01T00:21:00Z");
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(*t, 1767226860.0);
  EXPECT_EQ(FormatDateTime(*t), "2026-01-01T00:21:00Z");
  EXPECT_EQ(FormatDateTime(*ParseDateTime("2026-01-01T00:00:00.250Z")), "2026-01-01T00:00:00.250Z");
  EXPECT_DOUBLE_EQ(*ParseDateTime("2026-01-01T01:00:00+01:00"), 1767225600.0);
  EXPECT_DOUBLE_EQ(*ParseDateTime("2026-01-01 00:00:00"), 1767225600.0);
  EXPECT_FALSE(ParseDateTime("yesterday").ok());
}

// The hand-parsed "...Z" form must agree with the general (offset) path.
TEST(DateTimeTest, CanonicalFormAgreesWithGeneralParser) {
  for (const char* base :
       {"1970-01-01T00:00:00", "2000-02-29T23:59:59", "2026-11-30T08:38:28", "2038-01-19T03:14:08",
        "2100-12-31T12:00:00.5", "2024-02-29 10:00:00.125"}) {
    auto fast = ParseDateTime(std::string(base) + "Z");
    auto general = ParseDateTime(std::string(base) + "+00:00");
    ASSERT_TRUE(fast.ok()) << base;
    ASSERT_TRUE(general.ok()) << base;
    EXPECT_DOUBLE_EQ(*fast, *general) << base;
  }
  for (const char* bad : {"2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z",
                          "2026-01-01T00:00:0xZ", "2026-01-01X00:00:00Z"}) {
    EXPECT_FALSE(ParseDateTime(bad).ok()) << bad;
  }
}

// Issue 7 point 17: a fraction is cut, never rounded up into the next second
// (nor, at year 9999, into year 10000).
TEST(DateTimeTest, TruncatesFractionsNeverRoundingUp) {
  EXPECT_EQ(FormatDateTime(*ParseDateTime("9999-12-31T23:59:59.999999999Z")),
            "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatDateTime(*ParseDateTime("9999-12-31 23:59:59.9999Z")),
            "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatDateTime(*ParseDateTime("2026-01-01T00:00:59.9999Z")),
            "2026-01-01T00:00:59.999Z");
  EXPECT_EQ(FormatDateTime(*ParseDateTime("2026-01-01T00:00:00.123Z")), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(FormatDateTime(*ParseDateTime("2026-01-01T00:00:00.5+00:00")),
            "2026-01-01T00:00:00.500Z");
  EXPECT_EQ(FormatDateTime(*ParseDateTime("1969-12-31T23:59:59.9999Z")),
            "1969-12-31T23:59:59.999Z");
  EXPECT_LT(*ParseDateTime("9999-12-31T23:59:59.999999999Z"), 253402300800.0);
}

TEST(DateTimeTest, FormatsOutOfRangeAsNumberWithoutUndefinedBehaviour) {
  EXPECT_EQ(FormatDateTime(1e300), "1.0000000000000001e+300");
  EXPECT_EQ(FormatDateTime(253402300800.0), "253402300800");
  EXPECT_EQ(FormatDateTime(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(FormatDurationSeconds(1e20), "1e+20s");
  EXPECT_EQ(FormatDurationSeconds(90), "1m30s");
}

TEST(DateTimeTest, FormatsHttpDatesInEnglishGmt) {
  EXPECT_EQ(FormatHttpDate(FromEpochSeconds(*ParseDateTime("2015-04-08T03:52:31.900Z"))),
            "Wed, 08 Apr 2015 03:52:31 GMT");
  EXPECT_EQ(FormatHttpDate(FromEpochSeconds(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(FromEpochSeconds(*ParseDateTime("2026-12-31T23:59:59Z"))),
            "Thu, 31 Dec 2026 23:59:59 GMT");
}

}  // namespace
}  // namespace linkwatch
