// The status page shows a table's error reason and its last break
// (docs/sync.md "Breaks"), escaped.
#include "exporters/status_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace linkwatch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

nlohmann::json Table(nlohmann::json last_break) {
  return {{"source", "local"},
          {"profile", "crm"},
          {"table", "account"},
          {"syncStatus", "RequestedInitialData"},
          {"initialSync", "Completed"},
          {"lastError", "the sync broke (partition_missing): <2020.csv> gone"},
          {"errorReason", "partition_missing"},
          {"lastBreak", std::move(last_break)}};
}

TEST(StatusPageTest, ShowsTheErrorReasonAndTheLastBreak) {
  nlohmann::json status{{"tables", nlohmann::json::array({Table({{"reason", "partition_missing"},
                                                                 {"message", "<2020.csv> gone"},
                                                                 {"at", "2026-01-01T00:00:00Z"},
                                                                 {"repairedAt", nullptr}})})}};
  const std::string page = RenderStatusPage(status, {}, 1767225660);
  EXPECT_THAT(page, HasSubstr("<th>Last break</th>"));
  EXPECT_THAT(page, HasSubstr("<span class=\"badge bad\">partition_missing</span>"));
  EXPECT_THAT(page, HasSubstr("&lt;2020.csv&gt; gone"));
  EXPECT_THAT(page, Not(HasSubstr("<2020.csv>")));
  EXPECT_THAT(page, HasSubstr("resyncing the table"));

  status["tables"][0]["lastBreak"]["repairedAt"] = "2026-01-01T00:00:02Z";
  status["tables"][0]["lastError"] = nullptr;
  status["tables"][0]["errorReason"] = nullptr;
  const std::string repaired = RenderStatusPage(status, {}, 1767225660);
  EXPECT_THAT(repaired, HasSubstr("repaired by a resync at 2026-01-01T00:00:02Z"));
  EXPECT_THAT(repaired, HasSubstr("<span class=\"badge warn\">partition_missing</span>"));
}

TEST(StatusPageTest, ATableWithoutBreakHasAnEmptyCell) {
  nlohmann::json status{{"tables", nlohmann::json::array({Table(nullptr)})}};
  const std::string page = RenderStatusPage(status, {}, 1767225660);
  EXPECT_THAT(page, Not(HasSubstr("resyncing the table")));
  EXPECT_THAT(page, Not(HasSubstr("repaired by")));
}

TEST(StatusPageTest, ListsReceiversWithTheirOutboxAndSilences) {
  nlohmann::json status{
      {"receivers",
       {{{"name", "oncall"},
         {"integration", "webhook"},
         {"pending", 3},
         {"dead", 1},
         {"lastError", "serverError: HTTP 503 <html>"},
         {"lastErrorAt", "2026-01-01T00:00:00Z"}},
        {{"name", "quiet"},
         {"integration", "log"},
         {"pending", 0},
         {"dead", 0},
         {"lastError", nullptr},
         {"lastErrorAt", nullptr}}}},
      {"silences",
       {{{"id", "abc"},
         {"status", {{"state", "active"}}},
         {"matchers",
          {{{"name", "entity"}, {"value", "acc<.*"}, {"isRegex", true}, {"isEqual", false}}}},
         {"startsAt", "2026-01-01T00:00:00Z"},
         {"endsAt", "2026-01-01T02:00:00Z"},
         {"createdBy", "ops"},
         {"comment", "deploy <b>"}}}}};
  const std::string page = RenderStatusPage(status, {}, 1767225660);
  EXPECT_THAT(page, HasSubstr("<td>oncall</td><td>webhook</td>"));
  EXPECT_THAT(page, HasSubstr("3 pending"));
  EXPECT_THAT(page, HasSubstr("1 dead"));
  EXPECT_THAT(page, HasSubstr("serverError: HTTP 503 &lt;html&gt; (2026-01-01T00:00:00Z)"));
  EXPECT_THAT(page, HasSubstr("id=\"silence-abc\""));
  EXPECT_THAT(page, HasSubstr("entity!~&quot;acc&lt;.*&quot;"));
  EXPECT_THAT(page, HasSubstr("deploy &lt;b&gt;"));
  EXPECT_THAT(page, Not(HasSubstr("<b>")));
}

TEST(StatusPageTest, SaysWhenThereAreNoReceiversOrSilences) {
  const std::string page = RenderStatusPage(nlohmann::json::object(), {}, 1767225660);
  EXPECT_THAT(page, HasSubstr("No receivers configured."));
  EXPECT_THAT(page, HasSubstr("<h2 id=\"silences\">Silences</h2><p class=\"empty\">None.</p>"));
}

}  // namespace
}  // namespace linkwatch
