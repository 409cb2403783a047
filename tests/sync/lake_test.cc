#include "agent/sync/destinations/lake.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/core/files.h"
#include "agent/core/time_format.h"
#include "agent/sync/destinations/lake_format.h"

namespace linkwatch::sync {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(LakeFormatTest, WritesTheThreeDatetimeFormats) {
  const double t = *ParseDateTime("2021-06-28T16:34:35Z");
  std::string s;
  lake::AppendSinkTime(s, t);
  EXPECT_EQ(s, "6/28/2021 4:34:35 PM");
  s.clear();
  lake::AppendSinkTime(s, *ParseDateTime("2021-01-02T00:05:09Z"));
  EXPECT_EQ(s, "1/2/2021 12:05:09 AM");
  s.clear();
  lake::AppendCreatedOnTime(s, t + 0.25);
  EXPECT_EQ(s, "2021-06-28T16:34:35.2500000+00:00");
  s.clear();
  lake::AppendIsoTime(s, t);
  EXPECT_EQ(s, "2021-06-28T16:34:35Z");
  EXPECT_EQ(lake::PartitionName(t, Partitioning::kYear), "2021");
  EXPECT_EQ(lake::PartitionName(t, Partitioning::kMonth), "2021-06");
}

TEST(LakeFormatTest, QuotesOnlyWhatNeedsQuoting) {
  std::string s;
  lake::AppendCsvField(s, "plain");
  s += '|';
  lake::AppendCsvField(s, "a,b");
  s += '|';
  lake::AppendCsvField(s, "say \"hi\"\nbye");
  EXPECT_EQ(s, "plain|\"a,b\"|\"say \"\"hi\"\"\nbye\"");
}

TEST(LakeFormatTest, RendersIdsAndValues) {
  SourceColumn key{"accountid", ValueType::kGuid, "GUID", false};
  Value guid{Value::Kind::kText, 0, 0, "6F1C0000-0000-4000-8000-00000000000A"};
  std::string id;
  EXPECT_EQ(lake::RenderId(guid, key, id), nullptr);
  EXPECT_EQ(id, "6f1c0000-0000-4000-8000-00000000000a");
  key.type = ValueType::kInt64;
  EXPECT_EQ(lake::RenderId(Value{Value::Kind::kInt, 42, 0, {}}, key, id), nullptr);
  EXPECT_EQ(id, "42");
  lake::RenderStats stats;
  SourceColumn b{"active", ValueType::kBoolean, "BOOLEAN", false};
  std::string s;
  EXPECT_EQ(lake::AppendValue(s, b, Value{Value::Kind::kInt, 1, 0, {}}, false, stats), nullptr);
  s += ',';
  EXPECT_EQ(lake::AppendValue(s, b, Value{Value::Kind::kText, 0, 0, "false"}, false, stats),
            nullptr);
  s += ',';
  SourceColumn d{"when", ValueType::kDateTime, "DATETIME", false};
  EXPECT_EQ(lake::AppendValue(s, d, Value{Value::Kind::kInt, 1767225600, 0, {}}, false, stats),
            nullptr);
  s += ',';
  // A datetime that does not parse is refused (a failed record), not kept.
  EXPECT_NE(lake::AppendValue(s, d, Value{Value::Kind::kText, 0, 0, "not a date"}, false, stats),
            nullptr);
  s += ',';
  SourceColumn r{"x", ValueType::kDouble, "REAL", false};
  EXPECT_EQ(lake::AppendValue(s, r, Value{Value::Kind::kReal, 0, 0.1, {}}, false, stats), nullptr);
  s += ',';
  EXPECT_EQ(lake::AppendValue(s, r, Value{}, false, stats), nullptr);
  EXPECT_EQ(s, "True,False,2026-01-01T00:00:00Z,,0.1,");
}

// A table "account": accountid (key), name, createdon.
class LakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lw_lake_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    schema_.name = "account";
    schema_.columns = {{"accountid", ValueType::kString, "TEXT", false},
                       {"name", ValueType::kString, "TEXT", false},
                       {"createdon", ValueType::kDateTime, "DATETIME", false}};
    schema_.key = 0;
    schema_.createdon = 2;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<TableWriter> OpenWriter(bool append_only, const std::string& marker = "",
                                          Partitioning partitioning = Partitioning::kYear) {
    lake_.reset();  // one open destination per lake folder (it holds a lock)
    auto lake = LakeDestination::Open(dir_.string());
    EXPECT_TRUE(lake.ok()) << lake.message();
    lake_ = std::move(lake).value();
    TableOptions options;
    options.append_only = append_only;
    options.partition = partitioning;
    auto w = lake_->OpenTable(schema_, options, marker);
    EXPECT_TRUE(w.ok()) << w.message();
    return w.ok() ? std::move(w).value() : nullptr;
  }

  // Puts a row (or a delete when name is empty and deleted is set).
  static Status Put(TableWriter& w, const std::string& id, const std::string& name,
                    const std::string& created, int64_t version, bool deleted = false,
                    bool is_new = false) {
    std::vector<Value> values = {{Value::Kind::kText, 0, 0, id},
                                 {Value::Kind::kText, 0, 0, name},
                                 {Value::Kind::kText, 0, 0, created}};
    RowView r;
    r.version = version;
    r.deleted = deleted;
    r.created = is_new;
    r.key = values[0];
    if (!deleted) r.values = values;
    return w.Put(r);
  }

  // Opens a writer on a fresh destination without expecting success.
  Result<std::unique_ptr<TableWriter>> TryOpen(bool append_only, const std::string& marker) {
    lake_.reset();
    auto lake = LakeDestination::Open(dir_.string());
    if (!lake) return lake.status();
    lake_ = std::move(lake).value();
    TableOptions options;
    options.append_only = append_only;
    return lake_->OpenTable(schema_, options, marker);
  }
  // Loads a1 (2024), a2 (2024), a3 (2025); returns the marker.
  std::string LoadThree(TableWriter& w) {
    EXPECT_TRUE(w.Begin(true, t0_).ok());
    EXPECT_TRUE(Put(w, "a1", "Contoso", "2024-03-01T10:00:00Z", 1).ok());
    EXPECT_TRUE(Put(w, "a2", "Fabrikam", "2024-04-01T10:00:00Z", 2).ok());
    EXPECT_TRUE(Put(w, "a3", "Northwind", "2025-04-01T10:00:00Z", 3).ok());
    auto r = w.Commit();
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? r->marker : "";
  }
  fs::path PartitionFile(const std::string& p) { return dir_ / "account" / (p + ".csv"); }
  void WriteRaw(const std::string& p, const std::string& content) {
    std::ofstream(PartitionFile(p), std::ios::binary | std::ios::trunc) << content;
  }

  std::string Partition(const std::string& p) {
    auto text = ReadFile((dir_ / "account" / (p + ".csv")).string());
    return text.ok() ? *text : "<missing>";
  }
  nlohmann::json Model() {
    return nlohmann::json::parse(*ReadFile((dir_ / "model.json").string()));
  }
  nlohmann::json Entity() {
    const auto model = Model();
    for (const auto& e : model["entities"]) {
      if (e["name"] == "account") return e;
    }
    return {};
  }
  static int Lines(const std::string& text) {
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }

  fs::path dir_;
  TableSchema schema_;
  std::unique_ptr<LakeDestination> lake_;
  const double t0_ = 1767225600;  // 2026-01-01T00:00:00Z
};

TEST_F(LakeTest, InitialLoadWritesPartitionsByCreatedonAndModelJson) {
  auto w = OpenWriter(false);
  ASSERT_TRUE(w->Begin(true, t0_).ok());
  ASSERT_TRUE(Put(*w, "a1", "Contoso", "2024-03-01T10:00:00Z", 5).ok());
  ASSERT_TRUE(Put(*w, "a2", "Fabrikam, Inc.", "2025-07-01T10:00:00Z", 0).ok());
  ASSERT_TRUE(Put(*w, "a3", "Northwind", "2024-12-31T23:59:59Z", 7).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->records, 3);
  EXPECT_EQ(Partition("2024"),
            "a1,1/1/2026 12:00:00 AM,1/1/2026 12:00:00 AM,a1,Contoso,"
            "2024-03-01T10:00:00.0000000+00:00,5,\n"
            "a3,1/1/2026 12:00:00 AM,1/1/2026 12:00:00 AM,a3,Northwind,"
            "2024-12-31T23:59:59.0000000+00:00,7,\n");
  EXPECT_THAT(Partition("2025"), HasSubstr("a2,1/1/2026 12:00:00 AM,1/1/2026 12:00:00 AM,a2,"
                                           "\"Fabrikam, Inc.\","));
  auto e = Entity();
  ASSERT_FALSE(e.is_null());
  std::vector<std::string> names;
  for (const auto& a : e["attributes"]) names.push_back(a["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"Id", "SinkCreatedOn", "SinkModifiedOn", "accountid",
                                             "name", "createdon", "versionnumber", "IsDelete"}));
  ASSERT_EQ(e["partitions"].size(), 2u);
  // lake-format.md: absolute file: URIs.
  EXPECT_EQ(e["partitions"][0]["location"], "file://" + dir_.string() + "/account/2024.csv");
  EXPECT_THAT(e["annotations"].dump(), HasSubstr("\"Completed\""));
  EXPECT_TRUE(
      fs::exists(dir_ / "Microsoft.Athena.TrickleFeedService" / "account-EntityMetadata.json"));
  EXPECT_TRUE(fs::exists(dir_ / "OptionsetMetadata" / "StatusMetadata.csv"));
}

TEST_F(LakeTest, InPlaceChangesRewritePartitionsAndKeepSinkCreatedOn) {
  auto w = OpenWriter(false);
  ASSERT_TRUE(w->Begin(true, t0_).ok());
  ASSERT_TRUE(Put(*w, "a1", "Contoso", "2024-03-01T10:00:00Z", 1).ok());
  ASSERT_TRUE(Put(*w, "a2", "Fabrikam", "2024-04-01T10:00:00Z", 2).ok());
  ASSERT_TRUE(w->Commit().ok());

  ASSERT_TRUE(w->Begin(false, t0_ + 3600).ok());
  ASSERT_TRUE(Put(*w, "a1", "Contoso Ltd", "2024-03-01T10:00:00Z", 3).ok());
  ASSERT_TRUE(Put(*w, "a2", "", "", 4, /*deleted=*/true).ok());
  ASSERT_TRUE(Put(*w, "a9", "Tailspin", "2023-01-01T00:00:00Z", 5, false, true).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->records, 2);
  EXPECT_EQ(r->created, 1);
  EXPECT_EQ(r->updated, 1);
  EXPECT_EQ(r->deleted, 1);
  EXPECT_EQ(Partition("2024"),
            "a1,1/1/2026 12:00:00 AM,1/1/2026 1:00:00 AM,a1,Contoso Ltd,"
            "2024-03-01T10:00:00.0000000+00:00,3,\n");
  EXPECT_THAT(Partition("2023"), HasSubstr("a9,1/1/2026 1:00:00 AM,1/1/2026 1:00:00 AM,a9,"));
  EXPECT_EQ(Entity()["partitions"].size(), 2u);

  // Deleting the last row of a partition leaves it an empty file, still
  // listed: a reader that has just read model.json never meets a missing file.
  ASSERT_TRUE(w->Begin(false, t0_ + 7200).ok());
  ASSERT_TRUE(Put(*w, "a9", "", "", 6, true).ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_EQ(Partition("2023"), "");
  EXPECT_EQ(Entity()["partitions"].size(), 2u);
}

TEST_F(LakeTest, ReopeningRebuildsTheIndexFromTheFiles) {
  {
    auto w = OpenWriter(false);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "Contoso", "2024-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  auto w = OpenWriter(false);
  // A replayed batch (the cursor was not committed) is applied once.
  for (int replay = 0; replay < 2; ++replay) {
    ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
    ASSERT_TRUE(Put(*w, "a1", "Contoso 2", "2024-03-01T10:00:00Z", 2).ok());
    auto r = w->Commit();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->records, 1);
    EXPECT_EQ(r->updated, 1);
  }
  EXPECT_EQ(Lines(Partition("2024")), 1);
}

// Regression: after a reopen, model.json kept the partition locations it had
// read, so a partition added in front shifted every location by one.
TEST_F(LakeTest, PartitionLocationsStayRightAfterReopening) {
  {
    auto w = OpenWriter(false);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "x", "2021-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(Put(*w, "a2", "y", "2022-03-01T10:00:00Z", 2).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  auto w = OpenWriter(false);
  ASSERT_TRUE(w->Begin(false, t0_).ok());
  ASSERT_TRUE(Put(*w, "a0", "z", "2019-03-01T10:00:00Z", 3, false, true).ok());
  ASSERT_TRUE(w->Commit().ok());
  const auto parts = Entity()["partitions"];
  ASSERT_EQ(parts.size(), 3u);
  for (const auto& p : parts) {
    EXPECT_EQ(p["location"],
              "file://" + dir_.string() + "/account/" + p["name"].get<std::string>() + ".csv")
        << p.dump();
  }
}

TEST_F(LakeTest, ALakeHasOneWriterAtATime) {
  auto first = LakeDestination::Open(dir_.string());
  ASSERT_TRUE(first.ok());
  auto second = LakeDestination::Open(dir_.string());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.message(), HasSubstr("in use by another linkwatch process"));
  first = Status::Error("closed");
  EXPECT_TRUE(LakeDestination::Open(dir_.string()).ok());
}

// Regression: a crash between the two renames of a row whose createdon moved
// it to another partition left it in both; the replay must clean that up.
TEST_F(LakeTest, AnIdLeftInTwoPartitionsByACrashIsCleanedByTheReplay) {
  fs::create_directories(dir_ / "account");
  const std::string sink = "1/1/2026 12:00:00 AM";
  {
    std::ofstream(dir_ / "account" / "2024.csv")
        << "x," + sink + "," + sink + ",x,old,2024-01-01T00:00:00.0000000+00:00,1,\n";
  }
  {
    std::ofstream(dir_ / "account" / "2025.csv")
        << "x," + sink + "," + sink + ",x,new,2025-01-01T00:00:00.0000000+00:00,2,\n";
  }
  auto w = OpenWriter(false);
  ASSERT_TRUE(w->Begin(false, t0_).ok());
  ASSERT_TRUE(Put(*w, "x", "new", "2025-01-01T00:00:00Z", 2).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->records, 1);
  EXPECT_EQ(Partition("2024"), "");  // emptied, kept as an empty file
  EXPECT_EQ(Lines(Partition("2025")), 1);
}

TEST_F(LakeTest, SourceColumnsNamedLikeTheLakesOwnKeepTheirValues) {
  schema_.columns.push_back({"versionnumber", ValueType::kInt64, "INTEGER", false});
  schema_.columns.push_back({"IsDelete", ValueType::kString, "TEXT", false});
  auto w = OpenWriter(false);
  std::vector<Value> values = {{Value::Kind::kText, 0, 0, "a1"},
                               {Value::Kind::kText, 0, 0, "n"},
                               {Value::Kind::kText, 0, 0, "2024-05-01T00:00:00Z"},
                               {Value::Kind::kInt, 777, 0, {}},
                               {Value::Kind::kText, 0, 0, "maybe"}};
  RowView r;
  r.version = 5;
  r.key = values[0];
  r.values = values;
  ASSERT_TRUE(w->Begin(true, t0_).ok());
  ASSERT_TRUE(w->Put(r).ok());
  ASSERT_TRUE(w->Commit().ok());
  // ..., versionnumber (source) 777, IsDelete (source) maybe, versionnumber 5, IsDelete empty.
  EXPECT_THAT(Partition("2024"), HasSubstr(",777,maybe,5,\n"));
}

TEST_F(LakeTest, AnotherWritersLocalEntityIsKeptAsItIs) {
  fs::create_directories(dir_);
  const std::string other =
      R"({"$type":"LocalEntity","name":"other","description":"theirs","custom":1,)"
      R"("annotations":[{"name":"x","value":"y"}],"attributes":[],"partitions":[]})";
  { std::ofstream(dir_ / "model.json") << R"({"name":"cdm","entities":[)" + other + "]}"; }
  auto w = OpenWriter(false);
  ASSERT_TRUE(w->Begin(true, t0_).ok());
  ASSERT_TRUE(Put(*w, "a1", "x", "2021-03-01T10:00:00Z", 1).ok());
  ASSERT_TRUE(w->Commit().ok());
  const auto model = Model();
  bool found = false;
  for (const auto& e : model["entities"]) {
    if (e["name"] == "other") {
      found = true;
      EXPECT_EQ(e, nlohmann::json::parse(other));
    }
  }
  EXPECT_TRUE(found);
}

// model.json is put together from texts kept per entity: it must be the
// very text nlohmann's dump(2) of the whole model gives (managed entities,
// another writer's, and a foreign element), before and after a change.
TEST_F(LakeTest, ModelJsonIsTheWholeModelDumpedWithTwoSpaceIndent) {
  fs::create_directories(dir_);
  const std::string other =
      R"({"$type":"LocalEntity","name":"other","description":"the\nirs \u00e9","custom":1,)"
      R"("annotations":[{"name":"x","value":"y"}],"attributes":[],"partitions":[]})";
  {
    std::ofstream(dir_ / "model.json") << R"({"name":"cdm","entities":[)" + other +
                                              R"(,{"$type":"ReferenceEntity","name":"ref"}]})";
  }
  auto w = OpenWriter(false);
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(w->Begin(round == 0, t0_ + round).ok());
    ASSERT_TRUE(Put(*w, "a" + std::to_string(round), "x", "2021-03-01T10:00:00Z", 1 + round).ok());
    ASSERT_TRUE(w->Commit().ok());
    const std::string text = *ReadFile((dir_ / "model.json").string());
    EXPECT_EQ(text, nlohmann::json::parse(text).dump(2));
    EXPECT_EQ(Model()["entities"].size(), 3u);
  }
}

TEST_F(LakeTest, AppendOnlyAppendsEveryChangeAndCutsBackToTheMarker) {
  std::string marker;
  {
    auto w = OpenWriter(true);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "Contoso", "2024-03-01T10:00:00Z", 1).ok());
    auto r = w->Commit();
    ASSERT_TRUE(r.ok());
    marker = r->marker;
    EXPECT_THAT(Entity()["annotations"].dump(), HasSubstr("linkwatch:AppendOnly"));

    ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
    ASSERT_TRUE(Put(*w, "a1", "Contoso 2", "2024-03-01T10:00:00Z", 2).ok());
    ASSERT_TRUE(Put(*w, "a1", "", "", 3, true).ok());
    r = w->Commit();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->records, 3);
    EXPECT_EQ(r->updated, 1);
    EXPECT_EQ(r->deleted, 1);
    // The delete goes to the year it was synced (2026), the update to 2024.
    EXPECT_EQ(Lines(Partition("2024")), 2);
    EXPECT_EQ(Partition("2026"), "a1,1/1/2026 12:01:00 AM,1/1/2026 12:01:00 AM,,,,3,True\n");
  }
  // A crash before the second batch's cursor was stored: reopening with the
  // first marker cuts the files back, and the replay writes each change once.
  auto w = OpenWriter(true, marker);
  EXPECT_EQ(Lines(Partition("2024")), 1);
  EXPECT_FALSE(fs::exists(dir_ / "account" / "2026.csv"));
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
  ASSERT_TRUE(Put(*w, "a1", "Contoso 2", "2024-03-01T10:00:00Z", 2).ok());
  ASSERT_TRUE(Put(*w, "a1", "", "", 3, true).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records, 3);
  EXPECT_EQ(Lines(Partition("2024")), 2);
  EXPECT_EQ(Lines(Partition("2026")), 1);
}

TEST_F(LakeTest, MonthPartitionsInPlaceButAppendOnlyForcesYears) {
  {
    auto w = OpenWriter(false, "", Partitioning::kMonth);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "Contoso", "2024-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(Put(*w, "a2", "Fabrikam", "2024-11-01T10:00:00Z", 2).ok());
    ASSERT_TRUE(w->Commit().ok());
    EXPECT_EQ(Lines(Partition("2024-03")), 1);
    EXPECT_EQ(Lines(Partition("2024-11")), 1);
    EXPECT_THAT(Entity()["annotations"].dump(), HasSubstr("\"Month\""));
  }
  fs::remove_all(dir_);
  auto w = OpenWriter(true, "", Partitioning::kMonth);
  ASSERT_TRUE(w->Begin(true, t0_).ok());
  ASSERT_TRUE(Put(*w, "a1", "Contoso", "2024-03-01T10:00:00Z", 1).ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_EQ(Lines(Partition("2024")), 1);
}

TEST_F(LakeTest, ACorruptModelJsonIsAnErrorAndIsNotOverwritten) {
  fs::create_directories(dir_);
  { std::ofstream(dir_ / "model.json") << "{not json"; }
  auto lake = LakeDestination::Open(dir_.string());
  ASSERT_FALSE(lake.ok());
  EXPECT_THAT(lake.message(), HasSubstr("model.json in " + dir_.string() +
                                        " is corrupt: not valid JSON; linkwatch will not "
                                        "overwrite it"));
  EXPECT_EQ(lake.status().reason(), "model_corrupt");
  EXPECT_FALSE(lake.status().is_break());
  EXPECT_EQ(*ReadFile((dir_ / "model.json").string()), "{not json");
}

TEST_F(LakeTest, ForeignEntitiesInModelJsonAreKept) {
  fs::create_directories(dir_);
  {
    std::ofstream(dir_ / "model.json")
        << R"({"name":"cdm","version":"1.0","entities":[{"$type":"ReferenceEntity","name":"x"}]})";
  }
  auto w = OpenWriter(false);
  ASSERT_TRUE(w->Begin(true, t0_).ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_EQ(Model()["entities"].size(), 2u);
}

TEST_F(LakeTest, AColumnAddedToTheSourceIsAppendedAfterIsDelete) {
  {
    auto w = OpenWriter(false);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "Contoso", "2024-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  schema_.columns.push_back({"city", ValueType::kString, "TEXT", false});
  auto w = OpenWriter(false);
  std::vector<Value> values = {{Value::Kind::kText, 0, 0, "a2"},
                               {Value::Kind::kText, 0, 0, "New"},
                               {Value::Kind::kText, 0, 0, "2024-05-01T00:00:00Z"},
                               {Value::Kind::kText, 0, 0, "Oslo"}};
  RowView r;
  r.version = 2;
  r.key = values[0];
  r.values = values;
  ASSERT_TRUE(w->Begin(false, t0_).ok());
  ASSERT_TRUE(w->Put(r).ok());
  ASSERT_TRUE(w->Commit().ok());
  auto attrs = Entity()["attributes"];
  EXPECT_EQ(attrs.back()["name"], "city");
  EXPECT_EQ(attrs[attrs.size() - 2]["name"], "IsDelete");
  EXPECT_THAT(Partition("2024"), HasSubstr(",2,,Oslo\n"));
}

// --- Breaks (docs/sync.md "Breaks") -----------------------------------------

TEST_F(LakeTest, TheMarkerRecordsLengthAndCrc32OfEveryPartitionInPlaceToo) {
  auto w = OpenWriter(false);
  const std::string marker = LoadThree(*w);
  const auto m = nlohmann::json::parse(marker);
  const std::string p2024 = Partition("2024");
  ASSERT_TRUE(m.contains("2024")) << marker;
  EXPECT_EQ(m["2024"]["length"], p2024.size());
  EXPECT_EQ(m["2024"]["crc32"], ::crc32(0, reinterpret_cast<const Bytef*>(p2024.data()),
                                        static_cast<uInt>(p2024.size())));
  EXPECT_TRUE(m.contains("2025"));
  EXPECT_FALSE(m.contains("$attributes"));  // append only only
  // After a rewrite (the crc32 of the new content is combined from the runs
  // of records that stay and the new lines): still the file's crc32.
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
  ASSERT_TRUE(Put(*w, "a2", "Fabrikam 2", "2024-04-01T10:00:00Z", 4).ok());
  ASSERT_TRUE(Put(*w, "a3", "Northwind", "2024-05-01T10:00:00Z", 5).ok());  // moves to 2024
  ASSERT_TRUE(Put(*w, "a7", "New", "2024-01-01T10:00:00Z", 6, false, true).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok()) << r.message();
  const auto after = nlohmann::json::parse(r->marker);
  for (const std::string p : {"2024", "2025"}) {
    const std::string text = Partition(p);
    EXPECT_EQ(after[p]["length"], text.size()) << p;
    EXPECT_EQ(after[p]["crc32"], ::crc32(0, reinterpret_cast<const Bytef*>(text.data()),
                                         static_cast<uInt>(text.size())))
        << p;
  }
  EXPECT_EQ(Lines(Partition("2024")), 4);
  EXPECT_EQ(Partition("2025"), "");
}

// Records padded with a column's DEFAULT when the table is opened: the
// marker's crc32 is the padded file's, and a restart with it is no break.
TEST_F(LakeTest, PaddedPartitionsKeepAMarkerThatMatchesThem) {
  std::string marker;
  {
    auto w = OpenWriter(false);
    marker = LoadThree(*w);
  }
  schema_.columns.push_back({"extra", ValueType::kInt64, "INTEGER", false});
  schema_.defaults.resize(schema_.columns.size());
  schema_.defaults.back() = StoredValue{Value::Kind::kInt, 7, 0, ""};
  auto w = TryOpen(false, marker);
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_THAT(Partition("2024"), HasSubstr(",7\n"));
  ASSERT_TRUE((*w)->Begin(false, t0_ + 60).ok());
  auto r = (*w)->Commit();
  ASSERT_TRUE(r.ok()) << r.message();
  const auto m = nlohmann::json::parse(r->marker);
  const std::string text = Partition("2024");
  EXPECT_EQ(m["2024"]["crc32"], ::crc32(0, reinterpret_cast<const Bytef*>(text.data()),
                                        static_cast<uInt>(text.size())));
  // A crash before that marker was stored: the padded files are ours.
  (*w).reset();
  EXPECT_TRUE(TryOpen(false, marker).ok());
  EXPECT_TRUE(TryOpen(false, r->marker).ok());
}

TEST_F(LakeTest, ADeletedPartitionIsABreakNotANewFileWithTheChangedRowOnly) {
  auto w = OpenWriter(false);
  LoadThree(*w);
  fs::remove(PartitionFile("2024"));
  const Status s = w->Begin(false, t0_ + 60);
  ASSERT_TRUE(s.is_break()) << s.message();
  EXPECT_EQ(s.reason(), "partition_missing");
  EXPECT_THAT(s.message(), HasSubstr(PartitionFile("2024").string() + " is missing"));
  EXPECT_FALSE(fs::exists(PartitionFile("2024")));  // nothing written
  // The repair: a resync (initial batch) never reports a break, and
  // replaces the content.
  ASSERT_TRUE(w->Begin(true, t0_ + 120).ok());
  ASSERT_TRUE(Put(*w, "a1", "Contoso", "2024-03-01T10:00:00Z", 1).ok());
  ASSERT_TRUE(Put(*w, "a2", "Fabrikam 2", "2024-04-01T10:00:00Z", 4).ok());
  ASSERT_TRUE(Put(*w, "a3", "Northwind", "2025-04-01T10:00:00Z", 3).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->records, 3);
  EXPECT_EQ(Lines(Partition("2024")), 2);
  EXPECT_TRUE(w->Begin(false, t0_ + 180).ok());
}

TEST_F(LakeTest, ATruncatedInPlacePartitionIsABreakBeforeItIsRewritten) {
  auto w = OpenWriter(false);
  LoadThree(*w);
  const std::string before = Partition("2024");
  WriteRaw("2024", before.substr(0, before.size() - 10));  // cut off mid-record
  const Status s = w->Begin(false, t0_ + 60);
  ASSERT_TRUE(s.is_break()) << s.message();
  EXPECT_EQ(s.reason(), "partition_changed");
  EXPECT_THAT(s.message(), HasSubstr(PartitionFile("2024").string()));
  EXPECT_THAT(s.message(), HasSubstr("shorter than the " + std::to_string(before.size()) +
                                     " bytes linkwatch committed (truncated)"));
}

TEST_F(LakeTest, AnEditThatKeepsSizeAndMtimeIsCaughtWhenThePartitionIsRewritten) {
  auto w = OpenWriter(false);
  LoadThree(*w);
  const fs::path f = PartitionFile("2024");
  const auto mtime = fs::last_write_time(f);
  std::string text = Partition("2024");
  text.replace(text.find("Contoso"), 7, "Contosx");
  {
    std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
    io << text;
  }
  fs::last_write_time(f, mtime);
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());  // stat alike: not read again
  ASSERT_TRUE(Put(*w, "a2", "Fabrikam 2", "2024-04-01T10:00:00Z", 4).ok());
  auto r = w->Commit();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_break());
  EXPECT_EQ(r.status().reason(), "partition_changed");
  EXPECT_THAT(r.message(), HasSubstr("holds other content than linkwatch committed"));
  EXPECT_THAT(Partition("2024"), HasSubstr("Contosx"));  // not rewritten
}

TEST_F(LakeTest, ATouchedPartitionIsReadAgainAndAccepted) {
  auto w = OpenWriter(false);
  LoadThree(*w);
  fs::last_write_time(PartitionFile("2024"),
                      fs::file_time_type::clock::now() + std::chrono::hours(1));
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
  ASSERT_TRUE(Put(*w, "a2", "Fabrikam 2", "2024-04-01T10:00:00Z", 4).ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_THAT(Partition("2024"), HasSubstr("Fabrikam 2"));
}

TEST_F(LakeTest, AnInPlacePartitionChangedWhileStoppedIsABreakWhenReopened) {
  std::string marker;
  {
    auto w = OpenWriter(false);
    marker = LoadThree(*w);
  }
  const std::string before = Partition("2025");
  WriteRaw("2025", before + before);  // a record twice: longer
  auto w = TryOpen(false, marker);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().is_break());
  EXPECT_EQ(w.status().reason(), "partition_changed");
  EXPECT_THAT(w.message(), HasSubstr("longer than the"));
  // Opened without a marker (the engine after a break): no break, ever.
  EXPECT_TRUE(TryOpen(false, "").ok());
  fs::remove(PartitionFile("2025"));
  auto again = TryOpen(false, marker);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().reason(), "partition_missing");
}

TEST_F(LakeTest, ACrashBeforeTheMarkerWasStoredIsNoBreakInPlace) {
  std::string marker;
  {
    auto w = OpenWriter(false);
    marker = LoadThree(*w);
    // A batch renamed into place, then the process died before the engine
    // stored its marker: the files hold what the old marker does not list.
    ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
    ASSERT_TRUE(Put(*w, "a2", "Fabrikam 2", "2024-04-01T10:00:00Z", 4).ok());
    ASSERT_TRUE(Put(*w, "a9", "New", "2023-04-01T10:00:00Z", 5, false, true).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  auto w = TryOpen(false, marker);
  ASSERT_TRUE(w.ok()) << w.message();
  // The replay applies the batch again, once.
  ASSERT_TRUE((*w)->Begin(false, t0_ + 60).ok());
  ASSERT_TRUE(Put(**w, "a2", "Fabrikam 2", "2024-04-01T10:00:00Z", 4).ok());
  ASSERT_TRUE(Put(**w, "a9", "New", "2023-04-01T10:00:00Z", 5, false, true).ok());
  auto r = (*w)->Commit();
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->records, 4);
  const std::string stored = r->marker;
  // Once the next batch starts, the marker is stored: the older contents no
  // longer pass for committed ones.
  ASSERT_TRUE((*w)->Begin(false, t0_ + 120).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_FALSE(fs::exists(dir_ / "account" / ".linkwatch-uncommitted.json"));
  w = Status::Error("closed");
  EXPECT_TRUE(TryOpen(false, stored).ok());
  EXPECT_FALSE(TryOpen(false, marker).ok());  // the old marker no longer matches
}

TEST_F(LakeTest, AnAppendOnlyFileCutMidRecordIsABreakNeverGluedOnto) {
  auto w = OpenWriter(true);
  LoadThree(*w);
  const std::string before = Partition("2024");
  WriteRaw("2024", before.substr(0, before.size() - 7));
  const Status s = w->Begin(false, t0_ + 60);
  ASSERT_TRUE(s.is_break()) << s.message();
  EXPECT_EQ(s.reason(), "partition_changed");
  EXPECT_THAT(s.message(), HasSubstr("(truncated)"));
  EXPECT_EQ(Partition("2024"), before.substr(0, before.size() - 7));  // nothing appended
}

TEST_F(LakeTest, AnAppendOnlyFileCutBetweenBeginAndCommitIsABreak) {
  auto w = OpenWriter(true);
  LoadThree(*w);
  const std::string before = Partition("2024");
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
  ASSERT_TRUE(Put(*w, "a1", "Contoso 2", "2024-03-01T10:00:00Z", 4).ok());
  WriteRaw("2024", before.substr(0, before.size() - 7));
  auto r = w->Commit();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_break());
  EXPECT_EQ(Partition("2024"), before.substr(0, before.size() - 7));
}

TEST_F(LakeTest, AnAppendOnlyFileExtendedBySomeoneElseIsCutBackWhenItsCommittedBytesHold) {
  auto w = OpenWriter(true);
  LoadThree(*w);
  const std::string before = Partition("2024");
  WriteRaw("2024", before + "junk,without,end");
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
  EXPECT_EQ(Partition("2024"), before);
  ASSERT_TRUE(Put(*w, "a1", "Contoso 2", "2024-03-01T10:00:00Z", 4).ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_EQ(Lines(Partition("2024")), 3);
  EXPECT_THAT(Partition("2024"), Not(HasSubstr("junk")));
  // Extended, and the committed bytes changed too: a break.
  std::string now = Partition("2024");
  now[0] = 'x';
  WriteRaw("2024", now + "more\n");
  const Status s = w->Begin(false, t0_ + 120);
  ASSERT_TRUE(s.is_break()) << s.message();
  EXPECT_EQ(s.reason(), "partition_changed");
}

TEST_F(LakeTest, AnAppendOnlyFileShorterThanTheMarkerIsABreakAfterARestart) {
  std::string marker;
  {
    auto w = OpenWriter(true);
    marker = LoadThree(*w);
  }
  const std::string before = Partition("2024");
  WriteRaw("2024", before.substr(0, before.size() / 2));
  auto w = TryOpen(true, marker);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().is_break());
  EXPECT_EQ(w.status().reason(), "partition_changed");
  EXPECT_THAT(w.message(), HasSubstr(PartitionFile("2024").string() + " is " +
                                     std::to_string(before.size() / 2) + " bytes, shorter than"));
}

TEST_F(LakeTest, AnOldAppendOnlyMarkerWithLengthsOnlyIsStillRead) {
  std::string marker;
  {
    auto w = OpenWriter(true);
    LoadThree(*w);
  }
  const std::string p2024 = Partition("2024"), p2025 = Partition("2025");
  // What linkwatch wrote before crc32s were recorded.
  const std::string old = "{\"2024\":" + std::to_string(p2024.size()) +
                          ",\"2025\":" + std::to_string(p2025.size()) + ",\"$attributes\":8}";
  WriteRaw("2024", p2024 + "uncommitted,row\n");
  {
    auto w = TryOpen(true, old);
    ASSERT_TRUE(w.ok()) << w.message();
    EXPECT_EQ(Partition("2024"), p2024);  // cut back, as before
    ASSERT_TRUE((*w)->Begin(false, t0_ + 60).ok());
    ASSERT_TRUE(Put(**w, "a1", "Contoso 2", "2024-03-01T10:00:00Z", 4).ok());
    auto r = (*w)->Commit();
    ASSERT_TRUE(r.ok()) << r.message();
    // The new marker carries crc32s from now on.
    EXPECT_TRUE(nlohmann::json::parse(r->marker)["2024"].contains("crc32"));
  }
  // Length only: a shorter file is still caught.
  WriteRaw("2025", p2025.substr(1));
  auto w = TryOpen(true, old);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().reason(), "partition_changed");
  // And an in-place lake's old marker ("") opens as before.
  EXPECT_TRUE(TryOpen(false, "").ok());
}

TEST_F(LakeTest, ADeletedModelJsonIsRecreatedAtTheNextBatchAndReported) {
  auto w = OpenWriter(false);
  LoadThree(*w);
  const auto model = Model();
  fs::remove(dir_ / "model.json");
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());  // no partition added, still recreated
  ASSERT_TRUE(fs::exists(dir_ / "model.json"));
  EXPECT_EQ(Model(), model);
  EXPECT_EQ(lake_->models_recreated(), 1);
  const auto notices = lake_->TakeNotices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].reason, "model_missing");
  EXPECT_THAT(notices[0].message, HasSubstr((dir_ / "model.json").string() + " was deleted"));
  EXPECT_TRUE(lake_->TakeNotices().empty());
  ASSERT_TRUE(w->Commit().ok());
}

TEST_F(LakeTest, AModelJsonCorruptedWhileRunningIsRefusedNeverOverwrittenUntilFixed) {
  auto w = OpenWriter(false);
  LoadThree(*w);
  const auto model = Model();
  { std::ofstream(dir_ / "model.json", std::ios::trunc) << "{\"entities\": [tru"; }
  const Status s = w->Begin(false, t0_ + 60);
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(s.is_break());
  EXPECT_EQ(s.reason(), "model_corrupt");
  EXPECT_THAT(s.message(), HasSubstr("model.json in " + dir_.string() +
                                     " is corrupt: not valid "
                                     "JSON; linkwatch will not overwrite it: fix it or delete it "
                                     "(linkwatch recreates a missing one)"));
  // Nothing writes it meanwhile, not even a new partition.
  LakeDestination::Entity e;
  e.name = "other";
  EXPECT_EQ(lake_->PutEntity(e).reason(), "model_corrupt");
  EXPECT_EQ(*ReadFile((dir_ / "model.json").string()), "{\"entities\": [tru");
  // A model.json that is JSON but whose linkwatch entity is no CDM entity any more.
  auto broken = model;
  broken["entities"][0]["attributes"][0].erase("dataType");
  { std::ofstream(dir_ / "model.json", std::ios::trunc) << broken.dump(); }
  const Status s2 = w->Begin(false, t0_ + 60);
  EXPECT_EQ(s2.reason(), "model_corrupt");
  EXPECT_THAT(s2.message(), HasSubstr("not a valid CDM model"));
  // Fixed with an older copy: readable again, and rewritten with what the
  // writer knows.
  auto older = model;
  older["entities"][0]["partitions"] = nlohmann::json::array();
  { std::ofstream(dir_ / "model.json", std::ios::trunc) << older.dump(); }
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
  EXPECT_EQ(Entity(), model["entities"][0]);
  EXPECT_EQ(Model()["entities"].size(), 2u);  // with what PutEntity was refused to write
}

TEST_F(LakeTest, AReplacedLakeFolderIsABreakAndTheResyncFillsTheNewFolder) {
  auto w = OpenWriter(false);
  LoadThree(*w);
  const fs::path old = dir_.string() + ".old";
  fs::remove_all(old);
  fs::rename(dir_, old);
  fs::create_directories(dir_);
  const Status s = w->Begin(false, t0_ + 60);
  ASSERT_TRUE(s.is_break()) << s.message();
  EXPECT_EQ(s.reason(), "lake_replaced");
  EXPECT_THAT(s.message(), HasSubstr(dir_.string()));
  // The destination attached the new folder (lock, OptionsetMetadata).
  EXPECT_TRUE(fs::exists(dir_ / ".linkwatch.lock"));
  EXPECT_TRUE(fs::exists(dir_ / "OptionsetMetadata" / "StatusMetadata.csv"));
  // The engine reopens the table without a marker and resyncs it.
  TableOptions options;
  auto again = lake_->OpenTable(schema_, options, "");
  ASSERT_TRUE(again.ok()) << again.message();
  LoadThree(**again);
  EXPECT_EQ(Lines(Partition("2024")), 2);
  EXPECT_EQ(Entity()["partitions"].size(), 2u);
  ASSERT_TRUE((*again)->Begin(false, t0_ + 120).ok());
  // The old folder was left alone, and a deleted folder is a break too.
  EXPECT_TRUE(fs::exists(old / "account" / "2024.csv"));
  fs::remove_all(old);
  fs::remove_all(dir_);
  const Status gone = (*again)->Begin(false, t0_ + 180);
  EXPECT_EQ(gone.reason(), "lake_replaced");
  EXPECT_TRUE(fs::exists(dir_ / "OptionsetMetadata"));
}

}  // namespace
}  // namespace linkwatch::sync
