#include "exporters/state_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "exporters/exposition.h"
#include "tests/http/snapshot_builder.h"

namespace linkwatch {
namespace {

using state::TableId;
using testing::AddRow;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Num;
using testing::Str;

// The sample lines of a scrape (no comments), in order.
std::vector<std::string> Samples(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

std::shared_ptr<state::Snapshot> OneProfileTwoEntities() {
  auto snap = std::make_shared<state::Snapshot>();
  AddRow(*snap, TableId::kProfile,
         {{"synapselinkprofileid", Str("p-1")}, {"name", Str("crm")}, {"profilestate", Num(1)}});
  AddRow(*snap, TableId::kEntityState,
         {{"synapselinkprofileentitystateid", Str("e-1")},
          {"entityname", Str("account")},
          {"profile", Str("p-1")},
          {"syncstate", Num(2)},
          {"initialsyncstate", Num(4)},
          {"lastsynceddatatime", Num(1767225600)},  // 2026-01-01T00:00:00Z
          {"crmrecordcount", Num(10)},
          {"lakerecordcount", Num(9)}});
  // Nulls (initial sync state, last synced, lake count) give no series.
  AddRow(*snap, TableId::kEntityState,
         {{"synapselinkprofileentitystateid", Str("e-2")},
          {"entityname", Str("contact")},
          {"profile", Str("p-1")},
          {"syncstate", Num(8)},
          {"crmrecordcount", Num(5)}});
  return snap;
}

TEST(StateCollectorTest, OneProfileTwoEntitiesGivesExactSeries) {
  StateCollector collector;
  collector.Publish("local", OneProfileTwoEntities());
  const std::string text = SerializeMetrics({&collector});
  EXPECT_THAT(
      Samples(text),
      ::testing::ElementsAre(
          R"(linkwatch_entity_last_synced_timestamp_seconds{source="local",profile="crm",entity="account"} 1767225600)",
          R"(linkwatch_entity_sync_state{source="local",profile="crm",entity="account",state="InProgress"} 1)",
          R"(linkwatch_entity_sync_state{source="local",profile="crm",entity="contact",state="CompletedWithFailures"} 1)",
          R"(linkwatch_entity_initial_sync_state{source="local",profile="crm",entity="account",state="Completed"} 1)",
          R"(linkwatch_entity_source_records{source="local",profile="crm",entity="account"} 10)",
          R"(linkwatch_entity_source_records{source="local",profile="crm",entity="contact"} 5)",
          R"(linkwatch_entity_lake_records{source="local",profile="crm",entity="account"} 9)",
          R"(linkwatch_profile_state{source="local",profile="crm",state="Active"} 1)"));
  // Every family is announced with HELP and TYPE, even when empty.
  EXPECT_THAT(text, HasSubstr("# TYPE linkwatch_entity_sync_state gauge\n"));
  EXPECT_THAT(text, HasSubstr("# HELP linkwatch_alerts "));
  EXPECT_THAT(text, HasSubstr("# TYPE linkwatch_alerts gauge\n"));
}

TEST(StateCollectorTest, CountsPendingAndFiringAlertsByNameAndSeverity) {
  StateCollector collector;
  auto alert = [](std::string name, std::string severity, AlertState state) {
    Alert a;
    a.labels = {{"alertname", name}, {"severity", severity}, {"entity", "x"}};
    a.state = state;
    return a;
  };
  collector.PublishAlerts({alert("SyncStalled", "critical", AlertState::kFiring),
                           alert("SyncStalled", "critical", AlertState::kFiring),
                           alert("SyncStalled", "critical", AlertState::kPending),
                           alert("CountDrift", "warning", AlertState::kFiring),
                           alert("CountDrift", "warning", AlertState::kResolved),
                           alert("CountDrift", "warning", AlertState::kInactive)});
  EXPECT_THAT(
      Samples(SerializeMetrics({&collector})),
      ::testing::ElementsAre(
          R"(linkwatch_alerts{alertname="CountDrift",severity="warning",state="firing"} 1)",
          R"(linkwatch_alerts{alertname="SyncStalled",severity="critical",state="firing"} 2)",
          R"(linkwatch_alerts{alertname="SyncStalled",severity="critical",state="pending"} 1)"));
  // A new list replaces the old counts: resolved alerts disappear.
  collector.PublishAlerts({});
  EXPECT_THAT(Samples(SerializeMetrics({&collector})), ::testing::IsEmpty());
}

TEST(StateCollectorTest, LabelsEverySourceAndForgetsAnUnpublishedOne) {
  StateCollector collector;
  collector.Publish("local", OneProfileTwoEntities());
  collector.Publish("contoso-prod", OneProfileTwoEntities());
  std::string text = SerializeMetrics({&collector});
  EXPECT_THAT(text,
              HasSubstr(R"(profile_state{source="contoso-prod",profile="crm",state="Active"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(profile_state{source="local",profile="crm",state="Active"} 1)"));
  collector.Publish("contoso-prod", nullptr);
  text = SerializeMetrics({&collector});
  EXPECT_THAT(text, Not(HasSubstr("contoso-prod")));
  EXPECT_THAT(text, HasSubstr(R"(source="local")"));
}

TEST(StateCollectorTest, ANewSnapshotReplacesTheOldOne) {
  StateCollector collector;
  collector.Publish("local", OneProfileTwoEntities());
  auto snap = std::make_shared<state::Snapshot>();
  AddRow(*snap, TableId::kProfile,
         {{"synapselinkprofileid", Str("p-1")}, {"name", Str("crm")}, {"profilestate", Num(2)}});
  collector.Publish("local", snap);
  EXPECT_THAT(Samples(SerializeMetrics({&collector})),
              ::testing::ElementsAre(
                  R"(linkwatch_profile_state{source="local",profile="crm",state="Error"} 1)"));
}

TEST(StateCollectorTest, OrphanRowsKeepTheProfileIdAndDuplicatesAreDropped) {
  auto snap = std::make_shared<state::Snapshot>();
  AddRow(
      *snap, TableId::kEntityState,
      {{"entityname", Str("account")}, {"profile", Str("9f0c-gone")}, {"crmrecordcount", Num(1)}});
  // Same profile and table again (another tool's row): must not duplicate a series.
  AddRow(
      *snap, TableId::kEntityState,
      {{"entityname", Str("account")}, {"profile", Str("9f0c-gone")}, {"crmrecordcount", Num(2)}});
  // No table name: nothing to label it with.
  AddRow(*snap, TableId::kEntityState, {{"profile", Str("9f0c-gone")}, {"crmrecordcount", Num(3)}});
  // An unknown choice code is still shown, as its number.
  AddRow(*snap, TableId::kEntityState,
         {{"entityname", Str("contact")}, {"profile", Str("9f0c-gone")}, {"syncstate", Num(128)}});
  StateCollector collector;
  collector.Publish("local", snap);
  EXPECT_THAT(
      Samples(SerializeMetrics({&collector})),
      ::testing::ElementsAre(
          R"(linkwatch_entity_sync_state{source="local",profile="9f0c-gone",entity="contact",state="128"} 1)",
          R"(linkwatch_entity_source_records{source="local",profile="9f0c-gone",entity="account"} 1)"));
}

TEST(StateCollectorTest, EscapesLabelValues) {
  auto snap = std::make_shared<state::Snapshot>();
  AddRow(
      *snap, TableId::kProfile,
      {{"synapselinkprofileid", Str("p")}, {"name", Str("a\"b\\c\nd")}, {"profilestate", Num(0)}});
  StateCollector collector;
  collector.Publish("local", snap);
  EXPECT_THAT(
      SerializeMetrics({&collector}),
      HasSubstr(
          R"(linkwatch_profile_state{source="local",profile="a\"b\\c\nd",state="Inactive"} 1)"));
}

// SerializeMetrics takes the StateCollector's direct text path; it must be
// byte for byte what prometheus-cpp's TextSerializer makes of Collect().
std::string ViaTextSerializer(const prometheus::Collectable& c) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, c.Collect());
  return out.str();
}

TEST(StateCollectorTest, DirectTextEqualsTextSerializer) {
  auto snap = std::make_shared<state::Snapshot>();
  AddRow(*snap, TableId::kProfile,
         {{"synapselinkprofileid", Str("p-1")},
          {"name", Str("crm \"prod\"\\\n")},
          {"profilestate", Num(6)}});
  AddRow(*snap, TableId::kProfile,
         {{"synapselinkprofileid", Str("p-2")}, {"profilestate", Num(99)}});
  const double values[] = {0,
                           -0.0,
                           1,
                           0.1,
                           1767225600.25,
                           1767225600.123,
                           1e15,
                           1e16,
                           123456789012345678.0,
                           1.5e-7,
                           1.0 / 3,
                           -42,
                           999999999999999.0,
                           std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()};
  int i = 0;
  for (double v : values) {
    AddRow(*snap, TableId::kEntityState,
           {{"entityname", Str("t" + std::to_string(i))},
            {"profile", Str(i % 2 ? "p-1" : "p-2")},
            {"syncstate", Num(i % 3 ? 4 : 64)},
            {"initialsyncstate", Num(i % 5 ? 8 : 2.5)},
            {"lastsynceddatatime", Num(v)},
            {"crmrecordcount", Num(v)},
            {"lakerecordcount", Num(-v)}});
    ++i;
  }
  StateCollector collector;
  collector.Publish("local", snap);
  collector.Publish("a\\b", OneProfileTwoEntities());
  Alert a;
  a.labels = {{"alertname", "X"}};
  a.state = AlertState::kFiring;
  collector.PublishAlerts({a, a});
  const std::string direct = SerializeMetrics({&collector});
  EXPECT_EQ(direct, ViaTextSerializer(collector));
  // A non-integer choice code is no state (docs/operations.md "Values the
  // watcher cannot read"): no series rather than state="2.5".
  EXPECT_THAT(direct, Not(HasSubstr("state=\"2.5\"")));
  EXPECT_THAT(direct, HasSubstr(" 1767225600.123\n"));
  EXPECT_THAT(direct, HasSubstr(" 1e+16\n"));

  StateCollector empty;
  EXPECT_EQ(SerializeMetrics({&empty}), ViaTextSerializer(empty));
}

}  // namespace
}  // namespace linkwatch
