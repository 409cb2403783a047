#include "agent/watch/invalid_value_log.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>

#include "agent/watch/watch_metrics.h"
#include "tests/fakes/metric_value.h"

namespace linkwatch::watch {
namespace {

using state::InvalidValue;
using state::TableId;

InvalidValue Bad(std::string row, std::string column, std::string value) {
  return {TableId::kEntityState, std::move(row), std::move(column), std::move(value),
          "not a number"};
}

double CounterValue(const prometheus::Registry& r, const std::string& source,
                    const std::string& column) {
  return fakes::MetricValue(
             r, "linkwatch_watch_invalid_values_total",
             {{"source", source}, {"table", "synapselinkprofileentitystate"}, {"column", column}})
      .value_or(-1);
}

// Reports whose counts a test does not read.
WatchMetrics& Unread() {
  static prometheus::Registry registry;
  static WatchMetrics metrics(registry);
  return metrics;
}

// Issue 7 point 15: 4 bad values over many polls log 4 lines, not one per
// poll; every read is counted.
TEST(InvalidValueLogTest, WarnsOncePerValueAndCountsEveryRead) {
  prometheus::Registry registry;
  WatchMetrics metrics(registry);
  InvalidValueLog log;
  const std::vector<InvalidValue> values = {
      Bad("r1", "lastsynceddatatime", "yesterday"), Bad("r2", "lastsynceddatatime", "soon"),
      Bad("r3", "crmrecordcount", "12abc"), Bad("r4", "crmrecordcount", "abc")};
  EXPECT_EQ(log.Report("local", values, metrics).size(), 4u);
  for (int poll = 0; poll < 30; ++poll) {
    EXPECT_TRUE(log.Report("local", values, metrics).empty()) << "poll " << poll;
  }
  EXPECT_EQ(log.remembered(), 4u);
  EXPECT_EQ(CounterValue(registry, "local", "lastsynceddatatime"), 62);
  EXPECT_EQ(CounterValue(registry, "local", "crmrecordcount"), 62);
}

TEST(InvalidValueLogTest, ForgetsChangedAndVanishedValuesAndSeparatesSources) {
  InvalidValueLog log;
  ASSERT_EQ(log.Report("a", {Bad("r1", "crmrecordcount", "x")}, Unread()).size(), 1u);
  // Another source with the same row is its own value.
  EXPECT_EQ(log.Report("b", {Bad("r1", "crmrecordcount", "x")}, Unread()).size(), 1u);
  // The value changes: the new one is warned about, the old one forgotten.
  const auto changed = log.Report("a", {Bad("r1", "crmrecordcount", "y")}, Unread());
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_NE(changed[0].find("\"y\""), std::string::npos) << changed[0];
  EXPECT_EQ(log.remembered(), 2u);
  // The row is fixed, then goes bad again with the first value: warned again.
  EXPECT_TRUE(log.Report("a", {}, Unread()).empty());
  EXPECT_EQ(log.remembered(), 1u);
  EXPECT_EQ(log.Report("a", {Bad("r1", "crmrecordcount", "x")}, Unread()).size(), 1u);
}

TEST(InvalidValueLogTest, MemoryIsCappedAndOverflowIsSaidOnce) {
  InvalidValueLog log(/*capacity=*/3);
  std::vector<InvalidValue> values;
  for (int i = 0; i < 10; ++i)
    values.push_back(Bad("r" + std::to_string(i), "crmrecordcount", "x"));
  const auto first = log.Report("a", values, Unread());
  ASSERT_EQ(first.size(), 4u);  // 3 values and one line for the 7 others
  EXPECT_NE(first[3].find("7 more invalid values"), std::string::npos) << first[3];
  EXPECT_EQ(log.remembered(), 3u);
  EXPECT_TRUE(log.Report("a", values, Unread()).empty());
  EXPECT_EQ(log.remembered(), 3u);
}

}  // namespace
}  // namespace linkwatch::watch
