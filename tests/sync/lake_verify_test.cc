#include "agent/sync/destinations/lake_verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/state/db.h"
#include "agent/sync/destinations/cdm_model_check.h"
#include "agent/sync/sources/sqlite_source.h"
#include "tests/core/fault_injection_env.h"

namespace linkwatch::sync {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;

// The columns of a lake table (lake-format.md "CSV") with one source column.
const std::vector<std::string> kAttributes = {"Id",   "SinkCreatedOn", "SinkModifiedOn",
                                              "name", "versionnumber", "IsDelete"};

class LakeVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lw_lake_verify_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    lake_ = (dir_ / "lake").string();
    std::filesystem::create_directories(lake_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Adds an entity to model.json (written by WriteModel).
  void AddEntity(const std::string& name, const std::vector<std::string>& partitions,
                 bool append_only = false, const std::vector<std::string>& attributes = kAttributes,
                 const std::map<std::string, json>& attribute_json = {}) {
    json e{{"$type", "LocalEntity"}, {"name", name}, {"description", name}};
    e["annotations"] = json::array({{{"name", "Athena:PartitionGranularity"}, {"value", "Year"}}});
    if (append_only) {
      e["annotations"].push_back({{"name", "linkwatch:AppendOnly"}, {"value", "true"}});
    }
    e["attributes"] = json::array();
    for (const auto& a : attributes) {
      json attribute{{"name", a}, {"dataType", "string"}};
      if (auto it = attribute_json.find(a); it != attribute_json.end())
        attribute.update(it->second);
      e["attributes"].push_back(std::move(attribute));
    }
    e["partitions"] = json::array();
    for (const auto& p : partitions) {
      e["partitions"].push_back(
          {{"name", std::filesystem::path(p).stem().string()},
           {"location", p.find(':') == std::string::npos && p[0] != '/' ? Url(p) : p}});
    }
    entities_.push_back(std::move(e));
  }
  // The absolute file: URI of a file of the lake (lake-format.md "model.json").
  std::string Url(const std::string& relative) const {
    return "file://" + (std::filesystem::path(lake_) / relative).string();
  }
  void WriteModel() {
    WriteFile("model.json",
              json{{"name", "cdm"}, {"version", "1.0"}, {"entities", entities_}}.dump(2));
  }
  void WriteFile(const std::string& relative, const std::string& text) {
    const auto path = std::filesystem::path(lake_) / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }
  // One CSV row of kAttributes.
  static std::string Row(const std::string& id, const std::string& name, int64_t version,
                         bool deleted = false) {
    return id + ",6/28/2021 4:34:35 PM,6/28/2021 4:34:35 PM," + name + "," +
           std::to_string(version) + "," + (deleted ? "True" : "") + "\r\n";
  }

  LakeReport Verify(LakeVerifyOptions options = {}) {
    auto report = VerifyLake(lake_, options);
    EXPECT_TRUE(report.ok()) << report.message();
    return report.ok() ? std::move(report).value() : LakeReport{};
  }

  std::filesystem::path dir_;
  std::string lake_;
  json entities_ = json::array();
};

// The verifier reads the lake through the Env it is given, like the lake
// writer: a partition (or model.json) the Env cannot open is reported.
TEST_F(LakeVerifyTest, ReadsThroughItsEnv) {
  AddEntity("account", {"account/2023.csv", "account/2024.csv"});
  WriteModel();
  WriteFile("account/2023.csv", Row("a1", "Contoso", 7));
  WriteFile("account/2024.csv", Row("a2", "Fabrikam", 3));
  faults::FaultInjectionEnv env;
  env.FailNext(faults::FaultInjectionEnv::Op::kOpenRead, "2024.csv");
  auto r = VerifyLake(env, lake_);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(env.failures(), 1);
  EXPECT_THAT(r->problems,
              ElementsAre("cannot open " + lake_ + "/account/2024.csv: injected fault"));
  EXPECT_EQ(r->tables.at(0).live, 1);

  env.FailNext(faults::FaultInjectionEnv::Op::kOpenRead, "model.json");
  r = VerifyLake(env, lake_);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_THAT(r->problems, ElementsAre("model.json: cannot be opened"));
}

TEST_F(LakeVerifyTest, InPlaceLakeIsConsistent) {
  AddEntity("account", {"account/2023.csv", "account/2024.csv"});
  WriteModel();
  WriteFile("account/2023.csv", Row("a1", "\"Contoso, Ltd\"", 7) + Row("a2", "Fabrikam", 3));
  WriteFile("account/2024.csv", Row("a3", "\"Say \"\"hi\"\"\"", 9));
  // Files that are not partitions: snapshots and metadata.
  WriteFile("account/Snapshot/2023_20240101T000000Z.csv", Row("a1", "old", 1));
  WriteFile("OptionsetMetadata/StateMetadata.csv", "");
  WriteFile("Microsoft.Athena.TrickleFeedService/account-EntityMetadata.json", "{}");

  LakeReport r = Verify();
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.tables.size(), 1u);
  const TableReport& t = r.tables[0];
  EXPECT_FALSE(t.append_only);
  EXPECT_EQ(t.rows, 3);
  EXPECT_EQ(t.live, 3);
  EXPECT_EQ(t.duplicates, 0);
  EXPECT_EQ(t.deleted, 0);
  EXPECT_THAT(t.partitions, ElementsAre("account/2023.csv", "account/2024.csv"));
  ASSERT_EQ(t.state.count("a1"), 1u);
  EXPECT_EQ(t.state.at("a1").version, 7);
  EXPECT_EQ(t.state.at("a1").fields[3], "Contoso, Ltd");
  EXPECT_EQ(t.state.at("a3").fields[3], "Say \"hi\"");
  EXPECT_EQ(t.Location(t.state.at("a3")), "account/2024.csv:1");

  EXPECT_EQ(LakeReportText(r),
            "account  mode=in-place  rows=3  live=3  duplicates=0  deleted=0  ok\n"
            "lake " +
                lake_ + ": 1 table, consistent\n");
  const json j = json::parse(LakeReportJson(r));
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["tables"][0]["name"], "account");
  EXPECT_EQ(j["tables"][0]["mode"], "in-place");
  EXPECT_EQ(j["tables"][0]["live"], 3);
  EXPECT_EQ(j["problems"], json::array());
}

TEST_F(LakeVerifyTest, DuplicateIdAcrossPartitions) {
  AddEntity("account", {"account/2023.csv", "account/2024.csv"});
  WriteModel();
  WriteFile("account/2023.csv", Row("a1", "Contoso", 7) + Row("a2", "Fabrikam", 3));
  WriteFile("account/2024.csv", Row("a3", "Northwind", 9) + Row("a1", "Contoso", 8));
  LakeReport r = Verify();
  EXPECT_FALSE(r.ok());
  const TableReport& t = r.tables[0];
  EXPECT_EQ(t.rows, 4);
  EXPECT_EQ(t.live, 3);
  EXPECT_EQ(t.duplicates, 1);
  EXPECT_THAT(r.problems, ElementsAre("account/2024.csv:2: duplicate Id 'a1' (also at "
                                      "account/2023.csv:1)"));
  EXPECT_EQ(t.state.at("a1").version, 8);  // the newest of the two
  EXPECT_THAT(LakeReportText(r),
              HasSubstr("account  mode=in-place  rows=4  live=3  duplicates=1  deleted=0  "
                        "problems=1\n"));
}

TEST_F(LakeVerifyTest, AppendOnlyRebuildsTheLatestStateAndDropsDeletes) {
  AddEntity("contact", {"contact/2024.csv", "contact/2025.csv"}, /*append_only=*/true);
  WriteModel();
  WriteFile("contact/2024.csv", Row("c1", "created", 1) + Row("c2", "only", 2) +
                                    Row("c1", "updated", 3) + Row("c3", "v4", 4) +
                                    Row("c4", "gone", 6));
  // A delete carries Id, versionnumber and IsDelete only; c3 comes back after
  // its delete; an update listed before an older row still wins.
  WriteFile("contact/2025.csv", "c1,,,,5,True\r\n" + Row("c3", "v9", 9) +
                                    std::string("c3,,,,7,True\r\n") + "c4,,,,8,True\r\n");
  LakeReport r = Verify();
  EXPECT_THAT(r.problems, IsEmpty());
  const TableReport& t = r.tables[0];
  EXPECT_TRUE(t.append_only);
  EXPECT_EQ(t.rows, 9);
  EXPECT_EQ(t.duplicates, 0);
  EXPECT_EQ(t.deleted, 2);  // c1, c4
  EXPECT_EQ(t.live, 2);     // c2, c3
  EXPECT_EQ(t.state.count("c1"), 0u);
  EXPECT_EQ(t.state.count("c4"), 0u);
  EXPECT_EQ(t.state.at("c2").version, 2);
  EXPECT_EQ(t.state.at("c3").version, 9);
  EXPECT_EQ(t.state.at("c3").fields[3], "v9");
  EXPECT_EQ(t.Location(t.state.at("c3")), "contact/2025.csv:2");
  EXPECT_THAT(LakeReportText(r),
              HasSubstr("contact  mode=append-only  rows=9  live=2  duplicates=0  deleted=2  ok"));
}

TEST_F(LakeVerifyTest, AppendOnlySameIdAndVersionTwiceIsADuplicate) {
  AddEntity("contact", {"contact/2024.csv", "contact/2025.csv"}, true);
  WriteModel();
  WriteFile("contact/2024.csv", Row("c1", "a", 1) + Row("c1", "b", 2));
  WriteFile("contact/2025.csv", Row("c2", "x", 3) + Row("c1", "b again", 2));
  LakeReport r = Verify();
  const TableReport& t = r.tables[0];
  EXPECT_EQ(t.duplicates, 1);
  EXPECT_EQ(t.live, 2);
  EXPECT_EQ(t.state.at("c1").fields[3], "b");  // the first of the two stays
  EXPECT_THAT(r.problems, ElementsAre("contact/2025.csv:2: duplicate row: Id 'c1' versionnumber 2 "
                                      "again (first at contact/2024.csv:2)"));
  // The same Id with other versions is no duplicate in append-only mode.
  EXPECT_EQ(r.problem_count, 1);
}

TEST_F(LakeVerifyTest, MissingPartitionFile) {
  AddEntity("account", {"account/2023.csv", "account/2024.csv"});
  WriteModel();
  WriteFile("account/2023.csv", Row("a1", "Contoso", 1));
  LakeReport r = Verify();
  EXPECT_THAT(r.problems, ElementsAre("account/2024.csv: missing (listed as partition '2024' of "
                                      "account in model.json at location '" +
                                      Url("account/2024.csv") + "')"));
  EXPECT_EQ(r.tables[0].live, 1);
}

TEST_F(LakeVerifyTest, UnlistedCsvFileInATableFolder) {
  AddEntity("account", {"./account/2024.csv"});
  AddEntity("contact", {});
  WriteModel();
  WriteFile("account/2024.csv", Row("a1", "Contoso", 1));
  WriteFile("account/2023.csv", Row("a0", "stale", 1));
  WriteFile("account/2023.csv.tmp-123", "being written");
  WriteFile("account/Snapshot/2024_20240101T000000Z.csv", "");
  WriteFile("contact/2024.csv", "");
  WriteFile("orphan/2024.csv", Row("o1", "x", 1));
  LakeReport r = Verify();
  EXPECT_THAT(r.problems,
              ElementsAre("account/2023.csv: a partition file that model.json does not list",
                          "contact/2024.csv: a partition file that model.json does not list",
                          "orphan/2024.csv: a partition file that model.json does not list"));
  EXPECT_EQ(r.problem_count, 3);
}

TEST_F(LakeVerifyTest, PartitionLocationsMustBeAbsoluteUrisThatResolveInsideTheLake) {
  const std::string abs = (std::filesystem::path(lake_) / "account" / "2024.csv").string();
  // A file URL, percent-decoded, is fine; a plain absolute path and a relative
  // path are no URIs (read anyway, so that the rest is checked too); an https
  // URL names no local file; a file URL outside the lake is not the lake's.
  AddEntity("account", {"file://" + lake_ + "/account/2023%20old.csv", abs, "account/2025.csv"});
  AddEntity("remote", {"https://example.dfs.core.windows.net/crm/remote/2024.csv"});
  AddEntity("outside", {"file://" + dir_.string() + "/elsewhere.csv"});
  entities_[0]["partitions"][2]["location"] = "account/2025.csv";
  WriteModel();
  WriteFile("account/2023 old.csv", Row("a1", "Contoso", 1));
  WriteFile("account/2024.csv", Row("a2", "Fabrikam", 2));
  WriteFile("account/2025.csv", Row("a3", "Northwind", 3));
  std::ofstream(dir_ / "elsewhere.csv") << Row("x1", "not ours", 1);
  LakeReport r = Verify();
  EXPECT_THAT(
      r.problems,
      ElementsAre(
          "model.json: entities[0] (account): partitions[1] (2024): \"location\" \"" + abs +
              "\" is not an absolute URI (readers such as Spark's CDM connector resolve nothing "
              "else)",
          "model.json: entities[0] (account): partitions[2] (2025): \"location\" "
          "\"account/2025.csv\" is not an absolute URI (readers such as Spark's CDM connector "
          "resolve nothing else)",
          AllOf(HasSubstr("model.json: entity remote: partition '2024'"),
                HasSubstr("is neither a path nor a file URL")),
          AllOf(HasSubstr("model.json: entity outside: partition 'elsewhere': location 'file://"),
                HasSubstr("is outside the lake folder"))));
  EXPECT_THAT(r.tables[0].partitions,
              ElementsAre("account/2023 old.csv", "account/2024.csv", "account/2025.csv"));
  EXPECT_EQ(r.tables[0].live, 3);
  EXPECT_FALSE(r.ok());
}

TEST_F(LakeVerifyTest, MissingOrCorruptModelJson) {
  LakeReport r = Verify();
  EXPECT_THAT(r.problems, ElementsAre(HasSubstr("model.json: missing")));
  EXPECT_FALSE(r.ok());

  WriteFile("model.json", "{\"entities\": [\n  {\"name\": \"account\",\n");
  r = Verify();
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_THAT(r.problems[0], HasSubstr("model.json: not valid JSON: parse error at line 3"));
  EXPECT_TRUE(r.tables.empty());

  WriteFile("model.json", R"({"name": "cdm", "version": "1.0", "entities": {}})");
  EXPECT_THAT(Verify().problems, ElementsAre("model.json: \"entities\" is not an array"));

  WriteFile("model.json", R"({"entities": [{"name": "a"}, {"attributes": []}]})");
  EXPECT_THAT(
      Verify().problems,
      ElementsAre("model.json: no \"name\" (required)", "model.json: no \"version\" (required)",
                  "model.json: entities[0] (a): no \"$type\" (required)",
                  "model.json: entities[0] (a): no \"attributes\" array (required)",
                  "model.json: entities[1]: no \"$type\" (required)",
                  "model.json: entities[1]: no \"name\" (required)"));
}

TEST_F(LakeVerifyTest, MalformedCsvNamesFileAndLine) {
  AddEntity("account", {"account/2024.csv"});
  WriteModel();
  WriteFile("account/2024.csv", Row("a1", "\"two\r\nlines\"", 1) + Row("a2", "bad\"quote", 2) +
                                    Row("a3", "never read", 3));
  LakeReport r = Verify();
  EXPECT_THAT(r.problems, ElementsAre("account/2024.csv:3: quote inside unquoted field 4 (the rest "
                                      "of the file is not read)"));
  EXPECT_EQ(r.tables[0].rows, 1);
  EXPECT_FALSE(r.tables[0].ok());
}

TEST_F(LakeVerifyTest, ShortRowsFromColumnsAddedLaterHaveEmptyTrailingFields) {
  std::vector<std::string> attributes = kAttributes;
  attributes.push_back("phone");
  AddEntity("account", {"account/2024.csv"}, false, attributes);
  WriteModel();
  WriteFile("account/2024.csv", Row("a1", "old row", 1) + "a2,,,new row,2,,555-1234\r\n" +
                                    "a3,,,too long,3,,555,extra\r\n");
  LakeReport r = Verify();
  const TableReport& t = r.tables[0];
  EXPECT_EQ(t.live, 3);
  EXPECT_EQ(t.state.at("a1").fields.size(), 7u);
  EXPECT_EQ(t.state.at("a1").fields[6], "");
  EXPECT_EQ(t.state.at("a2").fields[6], "555-1234");
  EXPECT_THAT(r.problems, ElementsAre("account/2024.csv:3: row has 8 fields, model.json lists 7 "
                                      "attributes"));
}

TEST_F(LakeVerifyTest, RowsWithoutIdOrIntegerVersion) {
  AddEntity("account", {"account/2024.csv"});
  WriteModel();
  WriteFile("account/2024.csv", Row("", "no id", 1) + Row("a1", "ok", 2) + "a2,,,x,1.5,\r\n" +
                                    "a3,,,x,,\r\n" + "a4,,,x,3,maybe\r\n" +
                                    Row("a5", "deleted in place", 4, true));
  LakeReport r = Verify();
  EXPECT_THAT(r.problems,
              ElementsAre("account/2024.csv:1: row without an Id",
                          "account/2024.csv:3: Id 'a2': versionnumber '1.5' is not an integer",
                          "account/2024.csv:4: Id 'a3': versionnumber '' is not an integer",
                          "account/2024.csv:5: Id 'a4': IsDelete is 'maybe', expected True or "
                          "empty",
                          "account/2024.csv:6: Id 'a5': a delete row in an in-place table"));
  const TableReport& t = r.tables[0];
  EXPECT_EQ(t.rows, 6);
  EXPECT_EQ(t.live, 3);  // a1, a4, a5
  EXPECT_EQ(t.deleted, 1);
}

TEST_F(LakeVerifyTest, ModelWithoutTheLakeColumns) {
  AddEntity("account", {"account/2024.csv"}, false, {"name", "Id"});
  WriteModel();
  WriteFile("account/2024.csv", "x,a1\r\n");
  LakeReport r = Verify();
  EXPECT_THAT(r.problems,
              ElementsAre("model.json: entity account: Id is attribute 2, not the first",
                          "model.json: entity account: no versionnumber attribute",
                          "model.json: entity account: no IsDelete attribute"));
  EXPECT_EQ(r.tables[0].live, 1);
}

TEST_F(LakeVerifyTest, LineEndsAndCutOffLastRecord) {
  AddEntity("account", {"account/2023.csv", "account/2024.csv"});
  WriteModel();
  WriteFile("account/2023.csv", "a1,,,x,1,\r\na2,,,x,2,\n");
  WriteFile("account/2024.csv", "a3,,,x,3,\r\na4,,,x,4,");
  LakeReport r = Verify();
  EXPECT_THAT(r.problems,
              ElementsAre("account/2023.csv: mixes CRLF (1 records) and LF (1) line ends",
                          "account/2024.csv:2: the last record has no line break (a cut-off "
                          "write?)"));
  EXPECT_EQ(r.tables[0].live, 4);
}

TEST_F(LakeVerifyTest, LimitsMessagesPerKindButCountsAll) {
  AddEntity("account", {"account/2024.csv"});
  WriteModel();
  std::string rows;
  for (int i = 0; i < 15; ++i) rows += Row("dup", "x", i);
  WriteFile("account/2024.csv", rows);
  LakeVerifyOptions options;
  options.max_messages_per_kind = 3;
  LakeReport r = Verify(options);
  EXPECT_EQ(r.tables[0].duplicates, 14);
  EXPECT_EQ(r.tables[0].problems, 14);
  EXPECT_EQ(r.problem_count, 14);
  ASSERT_EQ(r.problems.size(), 4u);
  EXPECT_EQ(r.problems[3], "account: ... and 11 more duplicate Ids");
}

TEST_F(LakeVerifyTest, SnapshotEntitiesAreReportedSeparatelyInTheirTablesMode) {
  AddEntity("contact", {"contact/2024.csv"}, true);
  AddEntity("contact_partitioned", {"contact/Snapshot/2024_20240101T000000Z.csv"});
  WriteModel();
  const std::string rows = Row("c1", "a", 1) + Row("c1", "b", 2);
  WriteFile("contact/2024.csv", rows);
  WriteFile("contact/Snapshot/2024_20240101T000000Z.csv", rows);
  LakeReport r = Verify();
  EXPECT_THAT(r.problems, IsEmpty());
  const TableReport* s = r.Find("contact_partitioned");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->snapshot);
  EXPECT_TRUE(s->append_only);  // inherited from contact: c1 twice is no duplicate
  EXPECT_EQ(s->live, 1);
  EXPECT_THAT(LakeReportText(r), HasSubstr("contact_partitioned  mode=append-only  snapshot  "
                                           "rows=2  live=1  duplicates=0  deleted=0  ok\n"));
}

TEST_F(LakeVerifyTest, NotAFolderIsAnError) {
  EXPECT_FALSE(VerifyLake((dir_ / "nope").string()).ok());
  LakeVerifyOptions options;
  options.source_path = (dir_ / "nope.db").string();
  auto r = VerifyLake(lake_, options);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.message(), HasSubstr("nope.db is not a file"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "nope.db"));
}

TEST_F(LakeVerifyTest, PartitionThatIsNotValidUtf8) {
  AddEntity("account", {"account/2024.csv", "account/2025.csv"});
  WriteModel();
  // A lone continuation byte, then a surrogate encoded in UTF-8: each makes
  // a strict reader (DuckDB: "Invalid unicode") refuse the partition.
  WriteFile("account/2024.csv", Row("a1",
                                    "ab\xFF"
                                    "cd",
                                    1) +
                                    Row("a2", "caf\xC3\xA9 \xF0\x9F\x98\x80", 2));
  WriteFile("account/2025.csv", Row("a3", "sur\xED\xA0\x80", 3));
  LakeReport r = Verify();
  EXPECT_THAT(r.problems,
              ElementsAre("account/2024.csv:1: Id 'a1': attribute name: not valid UTF-8 (byte 2); "
                          "readers refuse the whole partition",
                          "account/2025.csv:1: Id 'a3': attribute name: not valid UTF-8 (byte 3); "
                          "readers refuse the whole partition"));
  EXPECT_FALSE(r.ok());
}

TEST_F(LakeVerifyTest, DecimalsInPlainNotationWithinPrecisionAndScale) {
  const json shaped = {
      {"dataType", "decimal"},
      {"cdm:traits",
       {{{"traitReference", "is.dataFormat.numeric.shaped"},
         {"arguments",
          {{{"name", "precision"}, {"value", 6}}, {{"name", "scale"}, {"value", 2}}}}}}}};
  AddEntity("account", {"account/2024.csv"}, false, kAttributes, {{"name", shaped}});
  WriteModel();
  WriteFile("account/2024.csv", Row("a1", "-1234.5", 1) + Row("a2", "0.01", 2) + Row("a3", "", 3) +
                                    Row("a4", "-1e-04", 4) + Row("a5", "1.234", 5) +
                                    Row("a6", "12345.6", 6) + Row("a7", "abc", 7));
  LakeReport r = Verify();
  EXPECT_THAT(
      r.problems,
      ElementsAre("account/2024.csv:4: Id 'a4': attribute name: '-1e-04' is not a decimal in plain "
                  "notation (dataType decimal)",
                  "account/2024.csv:5: Id 'a5': attribute name: '1.234' is more than the declared "
                  "scale 2 in fraction digits (dataType decimal)",
                  "account/2024.csv:6: Id 'a6': attribute name: '12345.6' is more integer digits "
                  "than DECIMAL(6,2) holds (dataType decimal)",
                  "account/2024.csv:7: Id 'a7': attribute name: 'abc' is not a decimal in plain "
                  "notation (dataType decimal)"));
}

TEST_F(LakeVerifyTest, EveryDecimalNeedsItsPrecisionAndScaleTrait) {
  AddEntity("account", {}, false, kAttributes, {{"name", {{"dataType", "decimal"}}}});
  WriteModel();
  EXPECT_THAT(Verify().problems,
              ElementsAre("model.json: entities[0] (account): attributes[3] (name): a decimal "
                          "without the is.dataFormat.numeric.shaped trait (precision and scale; "
                          "readers such as dataverse-to-sql refuse the model)"));
}

TEST_F(LakeVerifyTest, GuidValuesAndGuidIdsThatDifferOnlyByCase) {
  AddEntity("account", {"account/2024.csv"}, false, kAttributes, {{"Id", {{"dataType", "guid"}}}});
  // String Ids may differ only by case: they are different keys.
  AddEntity("contact", {"contact/2024.csv"});
  WriteModel();
  WriteFile("account/2024.csv", Row("09cb3942-aaaa-4bbb-8ccc-000000000001", "x", 1) +
                                    Row("09CB3942-AAAA-4BBB-8CCC-000000000001", "y", 2) +
                                    Row("r000", "z", 3));
  WriteFile("contact/2024.csv", Row("Abc", "x", 1) + Row("abc", "y", 2));
  LakeReport r = Verify();
  EXPECT_THAT(r.problems,
              ElementsAre("account/2024.csv:3: Id 'r000': attribute Id: 'r000' is not a GUID "
                          "(dataType guid)",
                          "account/2024.csv:1: Id '09cb3942-aaaa-4bbb-8ccc-000000000001' and Id "
                          "'09CB3942-AAAA-4BBB-8CCC-000000000001' (account/2024.csv:2) differ only "
                          "by case: one key to a reader of guid"));
  EXPECT_TRUE(r.Find("contact")->ok());
}

TEST_F(LakeVerifyTest, ValuesMustReadAsTheirDataType) {
  AddEntity(
      "account", {"account/2024.csv"}, false,
      {"Id", "SinkCreatedOn", "SinkModifiedOn", "n", "d", "b", "t", "versionnumber", "IsDelete"},
      {{"n", {{"dataType", "int64"}}},
       {"d", {{"dataType", "double"}}},
       {"b", {{"dataType", "boolean"}}},
       {"t", {{"dataType", "dateTime"}}}});
  WriteModel();
  const std::string sink = ",6/28/2021 4:34:35 PM,6/28/2021 4:34:35 PM,";
  WriteFile("account/2024.csv",
            "a1" + sink + "-9223372036854775808,NaN,True,2024-01-02T03:04:05.1234567Z,1,\r\n" +
                "a2" + sink + "1.5,-Infinity,False,2024-01-02T03:04:05+00:00,2,\r\n" + "a3" + sink +
                ",1e400,true,2024-13-01T00:00:00Z,3,\r\n");
  LakeReport r = Verify();
  EXPECT_THAT(r.problems,
              ElementsAre("account/2024.csv:2: Id 'a2': attribute n: '1.5' is not an integer "
                          "(dataType int64)",
                          "account/2024.csv:3: Id 'a3': attribute d: '1e400' is not a double "
                          "(dataType double)",
                          "account/2024.csv:3: Id 'a3': attribute b: 'true' is not True or False "
                          "(dataType boolean)",
                          "account/2024.csv:3: Id 'a3': attribute t: '2024-13-01T00:00:00Z' is not "
                          "a datetime in a lake format (dataType dateTime)"));
}

TEST_F(LakeVerifyTest, ModelJsonFollowsTheCdmSchemaRules) {
  json model = {{"name", " cdm"},
                {"version", "2.0"},
                {"annotations", {{{"name", "x"}, {"value", 5}}}},
                {"entities",
                 {{{"$type", "LocalEntity"},
                   {"name", "acc.ount"},
                   {"attributes",
                    {{{"name", "Id"}, {"dataType", "uuid"}},
                     {{"name", "n"},
                      {"dataType", "string"},
                      {"cdm:traits", {{{"arguments", json::array()}}}}},
                     {{"dataType", "string"}}}},
                   {"partitions",
                    {{{"name", "2024"}, {"location", "file:///lake/acc%20ount/2024.csv"}},
                     {{"name", "2025"}, {"location", "file:///lake/acc ount/2025.csv"}}}}},
                  {{"$type", "ReferenceEntity"}, {"name", "ref"}}}}};
  WriteFile("model.json", model.dump());
  EXPECT_THAT(
      Verify().problems,
      IsSupersetOf(
          {"model.json: \"name\" \" cdm\" starts or ends with white space",
           "model.json: \"version\" is \"2.0\", not \"1.0\"",
           "model.json: annotations[0] (x): \"value\" is 5, not a string",
           "model.json: entities[0] (acc.ount): \"name\" \"acc.ount\" holds '.' or '\"' (not "
           "allowed in an entity name)",
           "model.json: entities[0] (acc.ount): attributes[0] (Id): dataType \"uuid\" is not a CDM "
           "model.json dataType (unclassified, string, int64, double, date, time, dateTime, "
           "dateTimeOffset, decimal, boolean, guid, json)",
           "model.json: entities[0] (acc.ount): attributes[1] (n): cdm:traits[0]: no "
           "\"traitReference\" name",
           "model.json: entities[0] (acc.ount): attributes[2]: no \"name\" (required)",
           "model.json: entities[0] (acc.ount): partitions[1] (2025): \"location\" "
           "\"file:///lake/acc ount/2025.csv\" is not an absolute URI (readers such as Spark's CDM "
           "connector resolve nothing else)",
           "model.json: entities[1] (ref): a ReferenceEntity needs \"source\" (a string)",
           "model.json: entities[1] (ref): a ReferenceEntity needs \"modelId\" (a string)"}));
}

TEST(CdmModelCheckTest, AbsoluteUris) {
  EXPECT_TRUE(IsAbsoluteUri("file:///tmp/lake/account/2024.csv"));
  EXPECT_TRUE(IsAbsoluteUri("https://a.dfs.core.windows.net/c/account/2024.csv"));
  EXPECT_TRUE(IsAbsoluteUri("file:///tmp/l%C3%A4ke/a%20b.csv"));
  EXPECT_FALSE(IsAbsoluteUri("account/2024.csv"));
  EXPECT_FALSE(IsAbsoluteUri("/tmp/lake/account/2024.csv"));
  EXPECT_FALSE(IsAbsoluteUri("file:///tmp/a b.csv"));
  EXPECT_FALSE(IsAbsoluteUri("file:///tmp/l\xC3\xA4ke.csv"));
  EXPECT_FALSE(IsAbsoluteUri("file:///tmp/%zz.csv"));
  EXPECT_FALSE(IsAbsoluteUri("1file:///x"));
  EXPECT_FALSE(IsAbsoluteUri(""));
  EXPECT_TRUE(IsCdmDataType("dateTimeOffset"));
  EXPECT_FALSE(IsCdmDataType("int32"));  // not in Microsoft's model.json enumeration
}

TEST(CdmModelCheckTest, AValidModelHasNoProblems) {
  const json model = json::parse(R"({
    "name": "cdm", "description": "d", "version": "1.0",
    "entities": [{"$type": "LocalEntity", "name": "account", "description": "account",
      "annotations": [{"name": "Athena:PartitionGranularity", "value": "Year"},
                      {"name": "linkwatch:AppendOnly", "value": "true"}],
      "attributes": [{"name": "Id", "dataType": "guid", "maxLength": -1},
        {"name": "amount", "dataType": "decimal", "maxLength": -1,
         "cdm:traits": [{"traitReference": "is.dataFormat.numeric.shaped",
                         "arguments": [{"name": "precision", "value": 38},
                                       {"name": "scale", "value": 10}]}]},
        {"name": "name", "dataType": "string", "maxLength": 100,
         "cdm:traits": [{"traitReference": "is.constrained",
                         "arguments": [{"name": "maximumLength", "value": 100}]}]}],
      "partitions": [{"name": "2024", "location": "file:///tmp/lake/account/2024.csv"}]}]})");
  EXPECT_THAT(CheckCdmModel(model), IsEmpty());
}

class LakeVerifySourceTest : public LakeVerifyTest {
 protected:
  void SetUp() override {
    LakeVerifyTest::SetUp();
    source_ = (dir_ / "crm.db").string();
    auto db = state::Db::Open(source_);
    ASSERT_TRUE(db.ok()) << db.message();
    auto exec = [&](const std::string& sql) {
      ASSERT_TRUE((*db)->Exec(sql).ok()) << (*db)->LastError();
    };
    exec(
        "CREATE TABLE account(accountid TEXT PRIMARY KEY, name TEXT);"
        "CREATE TABLE contact(contactid INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE lead(leadid UUID PRIMARY KEY, name TEXT);"
        "INSERT INTO account VALUES ('a0', 'before tracking');");
    ASSERT_TRUE(EnableChangeTracking(source_, {"account", "contact", "lead"}).ok());
    exec(
        "INSERT INTO account VALUES ('a1', 'Contoso');"                           // 1
        "INSERT INTO account VALUES ('a2', 'Fabrikam');"                          // 2
        "UPDATE account SET name = 'Contoso Ltd' WHERE accountid = 'a1';"         // 3
        "DELETE FROM account WHERE accountid = 'a2';"                             // 4
        "INSERT INTO contact VALUES (7, 'Ann');"                                  // 5
        "INSERT INTO lead VALUES ('6F9619FF-8B86-D011-B42D-00C04FC964FF', 'L');"  // 6
    );
  }

  LakeReport VerifyWithSource() {
    LakeVerifyOptions options;
    options.source_path = source_;
    options.max_messages_per_kind = 50;  // every message, for the expectations below
    return Verify(options);
  }

  std::string source_;
  const std::map<std::string, json> kGuidId = {{"Id", {{"dataType", "guid"}}}};
};

TEST_F(LakeVerifySourceTest, MatchingLake) {
  AddEntity("account", {"account/2024.csv"});
  AddEntity("contact", {"contact/2024.csv"}, true);
  AddEntity("lead", {"lead/2024.csv"}, false, kAttributes, kGuidId);
  AddEntity("account_partitioned", {"account/Snapshot/2024_20240101T000000Z.csv"});
  WriteModel();
  WriteFile("account/2024.csv", Row("a0", "before tracking", 0) + Row("a1", "Contoso Ltd", 3));
  WriteFile("contact/2024.csv", Row("7", "Ann", 5) + Row("8", "Bob", 6) + "8,,,,7,True\r\n");
  WriteFile("lead/2024.csv", Row("6f9619ff-8b86-d011-b42d-00c04fc964ff", "L", 6));
  WriteFile("account/Snapshot/2024_20240101T000000Z.csv", Row("a2", "older", 2));
  LakeReport r = VerifyWithSource();
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_TRUE(r.tables[0].source.compared);
  EXPECT_FALSE(r.Find("account_partitioned")->source.compared);
  EXPECT_THAT(LakeReportText(r),
              HasSubstr("account              mode=in-place  rows=2  live=2  duplicates=0  "
                        "deleted=0  source=same  ok\n"));
}

TEST_F(LakeVerifySourceTest, MismatchingLake) {
  AddEntity("account", {"account/2024.csv"});
  AddEntity("contact", {"contact/2024.csv"}, true);
  AddEntity("lead", {"lead/2024.csv"}, false, kAttributes, kGuidId);
  AddEntity("opportunity", {});
  WriteModel();
  // a1 at an old version, a2 still there after its delete, a0 missing.
  WriteFile("account/2024.csv", Row("a1", "Contoso", 1) + Row("a2", "Fabrikam", 2));
  // 7 deleted in the lake but not in the source.
  WriteFile("contact/2024.csv", Row("7", "Ann", 5) + "7,,,,6,True\r\n");
  // A GUID written in upper case is not the source's Id.
  WriteFile("lead/2024.csv", Row("6F9619FF-8B86-D011-B42D-00C04FC964FF", "L", 6));
  LakeReport r = VerifyWithSource();
  const TableReport& account = *r.Find("account");
  EXPECT_EQ(account.source.missing_in_lake, 1);
  EXPECT_EQ(account.source.extra_in_lake, 1);
  EXPECT_EQ(account.source.version_differs, 1);
  EXPECT_EQ(account.source.values_differ, 1);
  EXPECT_EQ(account.problems, 4);
  EXPECT_THAT(r.problems, Contains("account: Id 'a0' (source version 0) is in the source but not "
                                   "live in the lake"));
  EXPECT_THAT(r.problems,
              Contains("account/2024.csv:1: Id 'a1' has versionnumber 1, the source version 3"));
  EXPECT_THAT(r.problems,
              Contains("account/2024.csv:2: Id 'a2' is live in the lake but not in the source"));
  EXPECT_THAT(r.problems, Contains("account/2024.csv:1: Id 'a1': attribute name is 'Contoso', "
                                   "the source's value reads back as 'Contoso Ltd'"));
  EXPECT_THAT(r.problems, Contains("contact: Id '7' (source version 5) is in the source but not "
                                   "live in the lake"));
  EXPECT_EQ(r.Find("lead")->source.missing_in_lake, 1);
  EXPECT_EQ(r.Find("lead")->source.extra_in_lake, 1);
  EXPECT_THAT(r.problems, Contains(AllOf(HasSubstr("opportunity: cannot be compared with the "
                                                   "source"),
                                         HasSubstr("no table \"opportunity\""))));
  EXPECT_EQ(r.problem_count, 4 + 1 + 2 + 1);
  EXPECT_THAT(LakeReportText(r), HasSubstr("source=differs(missing=1 extra=1 version=1 values=1)  "
                                           "problems=4\n"));
  const json j = json::parse(LakeReportJson(r));
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["tables"][0]["source"]["versionDiffers"], 1);
}

// Every value of every live record against the source (lake-format.md).
TEST_F(LakeVerifySourceTest, ValuesReadBackAsTheSourceHoldsThem) {
  auto db = state::Db::Open(source_);
  ASSERT_TRUE(db.ok()) << db.message();
  ASSERT_TRUE((*db)
                  ->Exec("CREATE TABLE vals(vid TEXT PRIMARY KEY, s TEXT, b BLOB, d REAL, "
                         "m NUMERIC, f BOOLEAN, t DATETIME)")
                  .ok());
  ASSERT_TRUE(EnableChangeTracking(source_, {"vals"}).ok());
  ASSERT_TRUE(
      (*db)
          ->Exec("INSERT INTO vals VALUES ('v1', '', X'', 0.0, '-0.0001', 1, "
                 "'2024-01-02T03:04:05.1234567Z');"
                 "INSERT INTO vals VALUES ('v2', NULL, NULL, 1e308, 42, 'true', "
                 "1700000000);"
                 "INSERT INTO vals VALUES ('v3', CAST(X'6162FF6364' AS TEXT), X'00FF', "
                 "0.1, 0.3333333333333333, 0, '2024-01-02T05:04:05+02:00');"
                 "INSERT INTO vals VALUES ('v4', ' ', NULL, NULL, NULL, NULL, '2024-01-02')")
          .ok());
  const std::map<std::string, json> types = {
      {"d", {{"dataType", "double"}}},
      {"m",
       {{"dataType", "decimal"},
        {"cdm:traits",
         {{{"traitReference", "is.dataFormat.numeric.shaped"},
           {"arguments",
            {{{"name", "precision"}, {"value", 38}}, {{"name", "scale"}, {"value", 10}}}}}}}}},
      {"f", {{"dataType", "boolean"}}},
      {"t", {{"dataType", "dateTime"}}}};
  const std::vector<std::string> attributes = {
      "Id", "SinkCreatedOn", "SinkModifiedOn", "vid", "s", "b", "d", "m", "f",
      "t",  "versionnumber", "IsDelete"};
  AddEntity("vals", {"vals/2024.csv"}, false, attributes, types);
  WriteModel();
  const std::string sink = ",6/28/2021 4:34:35 PM,6/28/2021 4:34:35 PM,";
  WriteFile("vals/2024.csv",
            "v1" + sink + "v1,\"\",\"\",0,-0.0001,True,2024-01-02T03:04:05.1234567Z,7,\r\n" + "v2" +
                sink + "v2,,,1e+308,42,True,2023-11-14T22:13:20Z,8,\r\n" + "v3" + sink +
                "v3,ab\xEF\xBF\xBD"
                "cd,AP8=,0.1,0.3333333333,False,2024-01-02T03:04:05Z,9,\r\n" +
                "v4" + sink + "v4, ,,,,,2024-01-02T00:00:00Z,10,\r\n");
  LakeReport r = VerifyWithSource();
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_TRUE(r.Find("vals")->ok());

  // The same lake written wrong in each way the issue saw.
  WriteFile("vals/2024.csv",
            "v1" + sink + "v1,,,-0,-1e-04,True,2024-01-02T03:04:05Z,7,\r\n" + "v2" + sink +
                "v2,\"\",,1e+308,42,True,2023-11-14T22:13:20Z,8,\r\n" + "v3" + sink +
                "v3,ab?cd,AP8=,NaN,0.3333333333,True,2024-01-02T03:04:05.5Z,9,\r\n" + "v4" + sink +
                "v4,\" \",,,,,2024-01-03T00:00:00Z,10,\r\n");
  r = VerifyWithSource();
  const TableReport& t = *r.Find("vals");
  EXPECT_EQ(t.source.values_differ, 4);
  EXPECT_THAT(
      r.problems,
      IsSupersetOf({
          "vals/2024.csv:1: Id 'v1': attribute s is NULL, the source's value reads back as ''",
          "vals/2024.csv:1: Id 'v1': attribute b is NULL, the source's value reads back as ''",
          // (SQLite keeps no negative zero: the source holds 0.)
          "vals/2024.csv:1: Id 'v1': attribute d is '-0', the source's value reads back as 0",
          "vals/2024.csv:1: Id 'v1': attribute m is '-1e-04', the source's value reads back as "
          "-0.0001",
          "vals/2024.csv:1: Id 'v1': attribute t is '2024-01-02T03:04:05Z', the source's value "
          "reads back as 2024-01-02T03:04:05.1234567Z",
          "vals/2024.csv:2: Id 'v2': attribute s is '', the source's value reads back as NULL",
          "vals/2024.csv:3: Id 'v3': attribute s is 'ab?cd', the source's value reads back as "
          "'ab\xEF\xBF\xBD"
          "cd'",
          "vals/2024.csv:3: Id 'v3': attribute d is 'NaN', the source's value reads back as 0.1",
          "vals/2024.csv:3: Id 'v3': attribute f is 'True', the source's value reads back as "
          "'False'",
          "vals/2024.csv:3: Id 'v3': attribute t is '2024-01-02T03:04:05.5Z', the source's value "
          "reads back as 2024-01-02T03:04:05Z",
          "vals/2024.csv:4: Id 'v4': attribute t is '2024-01-03T00:00:00Z', the source's value "
          "reads back as 2024-01-02T00:00:00Z",
      }));
}

TEST_F(LakeVerifySourceTest, GuidKeysThatCollideAreOneRecordAndOneFailedRecord) {
  auto db = state::Db::Open(source_);
  ASSERT_TRUE(db.ok()) << db.message();
  // 7: the lower-case twin of lead 6's key; the lake holds it, not 6.
  ASSERT_TRUE(
      (*db)->Exec("INSERT INTO lead VALUES ('6f9619ff-8b86-d011-b42d-00c04fc964ff', 'twin')").ok());
  AddEntity("lead", {"lead/2024.csv"}, false, kAttributes, kGuidId);
  WriteModel();
  WriteFile("lead/2024.csv", Row("6f9619ff-8b86-d011-b42d-00c04fc964ff", "twin", 7));
  LakeReport r = VerifyWithSource();
  const TableReport& t = *r.Find("lead");
  EXPECT_EQ(t.source.missing_in_lake, 1);
  EXPECT_EQ(t.source.values_differ, 0);
  EXPECT_EQ(t.source.version_differs, 0);
  EXPECT_THAT(r.problems,
              ElementsAre("lead: a source row (version 6) is not in the lake: its key renders to "
                          "Id '6f9619ff-8b86-d011-b42d-00c04fc964ff' like another row's (keys that "
                          "differ only by case: a failed record)"));

  // Listed as a failed record in the state store (lake verify --config
  // --profile reads it): absent by design, not missing.
  LakeVerifyOptions options;
  options.source_path = source_;
  options.failed_records["lead"] = {"6f9619ff-8b86-d011-b42d-00c04fc964ff"};
  r = Verify(options);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.Find("lead")->source.failed_records, 1);
  EXPECT_EQ(r.Find("lead")->source.missing_in_lake, 0);
  EXPECT_THAT(LakeReportText(r), HasSubstr("source=same  failed=1  ok\n"));
}

}  // namespace
}  // namespace linkwatch::sync
