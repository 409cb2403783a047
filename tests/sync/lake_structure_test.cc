// The lake's structure as every reader needs it (issue 7): DEFAULTs of
// columns added later carried into existing records, the decimal trait,
// absolute partition locations and `lake relocate`, and the order of an
// in-place batch's renames.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "agent/core/files.h"
#include "agent/state/db.h"
#include "agent/sync/destinations/lake.h"
#include "agent/sync/destinations/lake_location.h"
#include "agent/sync/sources/sqlite_source.h"

namespace linkwatch::sync {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

// A table "account": accountid (key), name, createdon; later columns are
// added by the tests.
class LakeStructureTest : public ::testing::Test {
 protected:
  void SetUp() override { SetDir("lw_lakes_"); }
  void TearDown() override {
    lake_.reset();
    fs::remove_all(base_);
  }
  void SetDir(const std::string& prefix) {
    base_ = fs::temp_directory_path() /
            (prefix + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    dir_ = base_ / "lake";
    schema_.name = "account";
    schema_.columns = {{"accountid", ValueType::kString, "TEXT", false},
                       {"name", ValueType::kString, "TEXT", false},
                       {"createdon", ValueType::kDateTime, "DATETIME", false}};
    schema_.key = 0;
    schema_.createdon = 2;
  }

  std::unique_ptr<TableWriter> OpenWriter(bool append_only, const std::string& marker = "") {
    lake_.reset();
    auto lake = LakeDestination::Open(dir_.string());
    EXPECT_TRUE(lake.ok()) << lake.message();
    if (!lake.ok()) return nullptr;
    lake_ = std::move(lake).value();
    lake_->on_partition_replaced = hook_;
    TableOptions options;
    options.append_only = append_only;
    auto w = lake_->OpenTable(schema_, options, marker);
    EXPECT_TRUE(w.ok()) << w.message();
    return w.ok() ? std::move(w).value() : nullptr;
  }

  // Values for every column of schema_: id, name, createdon, then `extra`.
  Status Put(TableWriter& w, const std::string& id, const std::string& created, int64_t version,
             bool deleted = false, std::vector<Value> extra = {}) {
    names_.push_back("n-" + id);  // outlives the views below
    std::vector<Value> values = {{Value::Kind::kText, 0, 0, id},
                                 {Value::Kind::kText, 0, 0, names_.back()},
                                 {Value::Kind::kText, 0, 0, created}};
    for (auto& v : extra) values.push_back(v);
    RowView r;
    r.version = version;
    r.deleted = deleted;
    r.key = values[0];
    if (!deleted) r.values = values;
    return w.Put(r);
  }

  std::string Partition(const std::string& p) {
    auto text = ReadFile((dir_ / "account" / (p + ".csv")).string());
    return text.ok() ? *text : "<missing>";
  }
  json Model() { return json::parse(*ReadFile((dir_ / "model.json").string())); }
  json Entity(const std::string& name = "account") {
    const json model = Model();
    for (const auto& e : model["entities"]) {
      if (e["name"] == name) return e;
    }
    return {};
  }
  // Adds a column "extra2 INTEGER DEFAULT 7" (or without a default).
  void AddColumn(bool with_default) {
    schema_.columns.push_back({"extra2", ValueType::kInt64, "INTEGER", false});
    schema_.defaults.resize(schema_.columns.size());
    if (with_default) schema_.defaults.back() = StoredValue{Value::Kind::kInt, 7, 0, ""};
  }
  static std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  fs::path base_, dir_;
  TableSchema schema_;
  std::unique_ptr<LakeDestination> lake_;
  std::function<void(const std::string&, const std::string&, bool)> hook_;
  std::list<std::string> names_;
  const double t0_ = 1767225600;  // 2026-01-01T00:00:00Z
};

// --- 2: a column added with a DEFAULT -----------------------------------------

TEST_F(LakeStructureTest, InPlaceRecordsThatPredateAColumnWithADefaultGetIt) {
  {
    auto w = OpenWriter(false);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "2024-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(Put(*w, "a2", "2024-04-01T10:00:00Z", 2).ok());
    ASSERT_TRUE(Put(*w, "b1", "2025-04-01T10:00:00Z", 3).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  AddColumn(true);
  // Reopening (the agent does when the source's schema moves, running or
  // after a restart) rewrites every partition: untouched ones too.
  auto w = OpenWriter(false);
  ASSERT_NE(w, nullptr);
  for (const auto& line : Lines(Partition("2024"))) EXPECT_THAT(line, ::testing::EndsWith(",,7"));
  for (const auto& line : Lines(Partition("2025"))) EXPECT_THAT(line, ::testing::EndsWith(",,7"));
  EXPECT_EQ(Entity()["attributes"].back()["name"], "extra2");
  // A later batch keeps the padded records, and a row whose value is NULL
  // stays empty (it has a value of its own).
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
  ASSERT_TRUE(Put(*w, "a1", "2024-03-01T10:00:00Z", 4, false, {Value{}}).ok());
  ASSERT_TRUE(w->Commit().ok());
  const auto lines = Lines(Partition("2024"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], ::testing::StartsWith("a2,"));
  EXPECT_THAT(lines[0], ::testing::EndsWith(",2,,7"));
  EXPECT_THAT(lines[1], ::testing::StartsWith("a1,"));
  EXPECT_THAT(lines[1], ::testing::EndsWith(",4,,"));
  // A crash after model.json listed the column but before a partition was
  // rewritten (here: 2025 written back short): the next open pads it.
  {
    std::string short_text;
    for (const auto& line : Lines(Partition("2025"))) {
      short_text += line.substr(0, line.size() - 2) + "\n";  // without ",7"
    }
    ASSERT_TRUE(WriteFileAtomic((dir_ / "account" / "2025.csv").string(), short_text).ok());
    ASSERT_THAT(Partition("2025"), ::testing::Not(HasSubstr(",7")));
  }
  w = OpenWriter(false);
  for (const auto& line : Lines(Partition("2025"))) EXPECT_THAT(line, ::testing::EndsWith(",,7"));
  // Reopening again finds nothing short: nothing is rewritten.
  const auto inode = fs::last_write_time(dir_ / "account" / "2025.csv");
  w = OpenWriter(false);
  EXPECT_EQ(fs::last_write_time(dir_ / "account" / "2025.csv"), inode);
}

TEST_F(LakeStructureTest, InPlaceRecordsShortOnlyByAColumnWithoutADefaultAreLeftAlone) {
  {
    auto w = OpenWriter(false);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "2024-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  const std::string before = Partition("2024");
  AddColumn(false);
  auto w = OpenWriter(false);
  EXPECT_EQ(Partition("2024"), before);
}

TEST_F(LakeStructureTest, AppendOnlyAsksForEveryRowAgainOnceAndTheMarkerRemembersIt) {
  std::string marker;
  {
    auto w = OpenWriter(true);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "2024-03-01T10:00:00Z", 1).ok());
    auto r = w->Commit();
    ASSERT_TRUE(r.ok());
    marker = r->marker;
    EXPECT_FALSE(w->NeedsEveryRowAgain());
  }
  AddColumn(true);
  auto w = OpenWriter(true, marker);
  EXPECT_TRUE(w->NeedsEveryRowAgain());
  // A crash before the new marker was committed: asked again.
  w = OpenWriter(true, marker);
  EXPECT_TRUE(w->NeedsEveryRowAgain());
  w->EveryRowLogged();
  EXPECT_FALSE(w->NeedsEveryRowAgain());
  ASSERT_TRUE(w->Begin(false, t0_ + 1).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::parse(r->marker)["$attributes"], Entity()["attributes"].size());
  w = OpenWriter(true, r->marker);
  EXPECT_FALSE(w->NeedsEveryRowAgain());
  // A column without a default never asks.
  schema_.columns.push_back({"extra3", ValueType::kString, "TEXT", false});
  schema_.defaults.resize(schema_.columns.size());
  w = OpenWriter(true, r->marker);
  EXPECT_FALSE(w->NeedsEveryRowAgain());
}

// The source side: the DEFAULT evaluated once, and every row logged again
// with a sequence number of its own, so that an append-only lake rebuilt by
// the highest versionnumber per Id reads the default.
TEST_F(LakeStructureTest, AppendOnlyRebuiltByHighestVersionReadsTheDefault) {
  fs::create_directories(base_);
  const std::string src_path = (base_ / "crm.db").string();
  {
    auto db = state::Db::Open(src_path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE account(accountid TEXT PRIMARY KEY, name TEXT, "
                           "createdon DATETIME);"
                           "INSERT INTO account VALUES ('a1', 'x', '2024-01-01T00:00:00Z'), "
                           "('a2', 'y', '2025-01-01T00:00:00Z');")
                    .ok());
  }
  ASSERT_TRUE(EnableChangeTracking(src_path, {"account"}).ok());
  auto src = SqliteSource::Open(src_path);
  ASSERT_TRUE(src.ok());
  auto schema = (*src)->Describe("account");
  ASSERT_TRUE(schema.ok());
  schema_ = *schema;
  auto w = OpenWriter(true);
  ASSERT_TRUE(w->Begin(true, t0_).ok());
  auto cursor = (*src)->ReadAll(schema_, [&](const RowView& r) { return w->Put(r); });
  ASSERT_TRUE(cursor.ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok());
  {
    auto db = state::Db::Open(src_path);
    ASSERT_TRUE((*db)
                    ->Exec("UPDATE account SET name = 'x2' WHERE accountid = 'a1';"
                           "ALTER TABLE account ADD COLUMN extra2 INTEGER DEFAULT 7;"
                           "ALTER TABLE account ADD COLUMN note TEXT DEFAULT 'it''s';"
                           "ALTER TABLE account ADD COLUMN none TEXT DEFAULT NULL;")
                    .ok());
  }
  schema = (*src)->Describe("account");
  ASSERT_TRUE(schema.ok());
  schema_ = *schema;
  ASSERT_EQ(schema_.defaults.size(), schema_.columns.size());
  EXPECT_EQ(schema_.defaults[3].kind, Value::Kind::kInt);
  EXPECT_EQ(schema_.defaults[3].i, 7);
  EXPECT_EQ(schema_.defaults[4].bytes, "it's");
  EXPECT_EQ(schema_.defaults[5].kind, Value::Kind::kNull);
  w = OpenWriter(true, r->marker);
  ASSERT_TRUE(w->NeedsEveryRowAgain());
  ASSERT_TRUE((*src)->LogChangeOfEveryRow(schema_).ok());
  w->EveryRowLogged();
  // The engine's rounds: the pending update of a1 and the logged rows.
  for (Cursor c = *cursor;;) {
    ASSERT_TRUE(w->Begin(false, t0_ + 10).ok());
    size_t n = 0;
    auto next = (*src)->ReadChanges(schema_, c, 1, [&](const RowView& row) {
      ++n;
      return w->Put(row);
    });
    ASSERT_TRUE(next.ok());
    ASSERT_TRUE(w->Commit().ok());
    if (n == 0) break;
    c = *next;
  }
  // Rebuild as a reader does: highest versionnumber per Id; no (Id, version)
  // twice.
  const auto attrs = Entity()["attributes"];
  std::map<std::string, int> col;
  for (size_t i = 0; i < attrs.size(); ++i) col[attrs[i]["name"]] = static_cast<int>(i);
  std::map<std::string, std::pair<int64_t, std::vector<std::string>>> latest;
  std::set<std::pair<std::string, int64_t>> seen;
  for (const char* p : {"2024", "2025"}) {
    for (const auto& line : Lines(Partition(p))) {
      std::vector<std::string> f;
      std::string cur;
      bool q = false;
      for (char ch : line) {
        if (ch == '"') {
          q = !q;
        } else if (ch == ',' && !q) {
          f.push_back(cur);
          cur.clear();
        } else {
          cur += ch;
        }
      }
      f.push_back(cur);
      f.resize(attrs.size());
      const int64_t v = std::stoll(f[col["versionnumber"]]);
      EXPECT_TRUE(seen.insert({f[0], v}).second) << "duplicate " << line;
      if (!latest.count(f[0]) || latest[f[0]].first < v) latest[f[0]] = {v, f};
    }
  }
  ASSERT_EQ(latest.size(), 2u);
  for (const auto& [id, row] : latest) {
    EXPECT_EQ(row.second[col["extra2"]], "7") << id;
    EXPECT_EQ(row.second[col["note"]], "it's") << id;
    EXPECT_EQ(row.second[col["none"]], "") << id;
  }
  EXPECT_EQ(latest["a1"].second[col["name"]], "x2");
}

// --- 6: decimals carry precision and scale ----------------------------------

TEST_F(LakeStructureTest, EveryDecimalCarriesItsPrecisionAndScaleTrait) {
  SourceColumn price{"price", ValueType::kDecimal, "DECIMAL(10,2)", false};
  price.precision = 10;
  price.scale = 2;
  schema_.columns.push_back(price);
  schema_.columns.push_back({"amount", ValueType::kDecimal, "NUMERIC", false});
  auto w = OpenWriter(false);
  auto shaped = [](const json& a) {
    for (const auto& t : a["cdm:traits"]) {
      if (t["traitReference"] == "is.dataFormat.numeric.shaped") return t["arguments"];
    }
    return json();
  };
  const json want_price =
      json::parse(R"([{"name":"precision","value":10},{"name":"scale","value":2}])");
  const json want_default =
      json::parse(R"([{"name":"precision","value":38},{"name":"scale","value":10}])");
  for (const json entity = Entity(); const auto& a : entity["attributes"]) {
    if (a["dataType"] != "decimal") continue;
    EXPECT_EQ(shaped(a), a["name"] == "price" ? want_price : want_default) << a.dump();
  }
  auto meta = json::parse(*ReadFile(
      (dir_ / "Microsoft.Athena.TrickleFeedService" / "account-EntityMetadata.json").string()));
  for (const auto& a : meta["AttributeMetadata"]) {
    if (a["AttributeName"] == "price") {
      EXPECT_EQ(a["Precision"], 10);
    } else if (a["AttributeName"] == "amount") {
      EXPECT_EQ(a["Precision"], 38);
    }
  }
  // An older lake's decimal attribute without the trait is upgraded.
  lake_.reset();
  json model = Model();
  for (auto& e : model["entities"]) {
    for (auto& a : e["attributes"]) a.erase("cdm:traits");
  }
  ASSERT_TRUE(WriteFileAtomic((dir_ / "model.json").string(), model.dump()).ok());
  w = OpenWriter(false);
  int decimals = 0;
  for (const json entity = Entity(); const auto& a : entity["attributes"]) {
    if (a["dataType"] != "decimal") continue;
    ++decimals;
    EXPECT_EQ(shaped(a), a["name"] == "price" ? want_price : want_default) << a.dump();
  }
  EXPECT_EQ(decimals, 2);
}

// --- Choices and lookups of a Dataverse source: the metadata files ----------

SourceColumn Choice(std::string name, const char* type, ColumnMetadata::Choice kind,
                    std::vector<ChoiceOption> options, std::string global = "") {
  SourceColumn c{std::move(name), ValueType::kInt64, type, false};
  c.metadata.choice = kind;
  c.metadata.options = std::move(options);
  c.metadata.option_set = std::move(global);
  return c;
}

TEST_F(LakeStructureTest, ChoicesAndLookupsReachTheMetadataFilesOfEveryTable) {
  using C = ColumnMetadata::Choice;
  schema_.columns.push_back(Choice("industrycode", "Picklist", C::kPicklist,
                                   {{1, "Accounting"}, {2, "Brokers, \"Ltd\""}}));
  schema_.columns.push_back(
      Choice("category", "Picklist", C::kPicklist, {{5, "Five", 1036}}, "category_global"));
  schema_.columns.push_back(
      Choice("statecode", "State", C::kState, {{0, "Active"}, {1, "Inactive"}}));
  schema_.columns.push_back(Choice("statuscode", "Status", C::kStatus,
                                   {{1, "Active", 1033, 0}, {2, "Inactive", 1033, 1}}));
  SourceColumn parent{"parentaccountid", ValueType::kGuid, "Lookup", false};
  parent.metadata.targets = {{"account", "accountid"}};
  schema_.columns.push_back(parent);
  auto w = OpenWriter(false);
  ASSERT_TRUE(w);
  const fs::path sets = dir_ / "OptionsetMetadata";
  auto file = [&](const char* name) { return *ReadFile((sets / name).string()); };
  EXPECT_EQ(file("OptionsetMetadata.csv"),
            "account,industrycode,1,False,1033,Accounting\n"
            "account,industrycode,2,False,1033,\"Brokers, \"\"Ltd\"\"\"\n");
  EXPECT_EQ(file("GlobalOptionsetMetadata.csv"),
            "category,5,False,1036,Five,category_global,account\n");
  EXPECT_EQ(file("StateMetadata.csv"),
            "account,0,False,1033,Active\naccount,1,False,1033,Inactive\n");
  EXPECT_EQ(file("StatusMetadata.csv"),
            "account,0,1,False,1033,Active\naccount,1,2,False,1033,Inactive\n");
  EXPECT_EQ(file("TargetMetadata.csv"), "account,parentaccountid,account,accountid\n");
  auto meta = json::parse(*ReadFile(
      (dir_ / "Microsoft.Athena.TrickleFeedService" / "account-EntityMetadata.json").string()));
  EXPECT_EQ(meta["OptionSetMetadata"].size(), 2u);
  EXPECT_EQ(meta["OptionSetMetadata"][1]["LocalizedLabel"], "Brokers, \"Ltd\"");
  EXPECT_EQ(meta["GlobalOptionSetMetadata"][0]["GlobalOptionSetName"], "category_global");
  EXPECT_EQ(meta["StatusMetadata"][1]["State"], "1");
  EXPECT_EQ(meta["TargetMetadata"][0]["ReferencedEntity"], "account");
  for (const auto& a : meta["AttributeMetadata"]) {
    if (a["AttributeName"] == "industrycode") {
      EXPECT_EQ(a["AttributeType"], "Picklist");
      EXPECT_EQ(a["AttributeTypeCode"], 11);
    }
  }

  // A second table's rows join the files; a table without choices (a
  // SQLite source's) adds none.
  TableSchema contact;
  contact.name = "contact";
  contact.columns = {{"contactid", ValueType::kString, "TEXT", false},
                     Choice("gendercode", "Picklist", C::kPicklist, {{1, "One"}}),
                     {"createdon", ValueType::kDateTime, "DATETIME", false}};
  contact.key = 0;
  contact.createdon = 2;
  ASSERT_TRUE(lake_->OpenTable(contact, TableOptions{}, "").ok());
  TableSchema plain = contact;
  plain.name = "plain";
  plain.columns[1] = {"gendercode", ValueType::kInt64, "INTEGER", false};
  ASSERT_TRUE(lake_->OpenTable(plain, TableOptions{}, "").ok());
  EXPECT_EQ(file("OptionsetMetadata.csv"),
            "account,industrycode,1,False,1033,Accounting\n"
            "account,industrycode,2,False,1033,\"Brokers, \"\"Ltd\"\"\"\n"
            "contact,gendercode,1,False,1033,One\n");

  // After a restart, a table whose labels changed replaces its own rows and
  // keeps the others' (read back from the files).
  schema_.columns[3].metadata.options[0].label = "Accounting & Audit";
  w = OpenWriter(false);
  ASSERT_TRUE(w);
  EXPECT_EQ(file("OptionsetMetadata.csv"),
            "account,industrycode,1,False,1033,Accounting & Audit\n"
            "account,industrycode,2,False,1033,\"Brokers, \"\"Ltd\"\"\"\n"
            "contact,gendercode,1,False,1033,One\n");
  EXPECT_EQ(file("StateMetadata.csv"),
            "account,0,False,1033,Active\naccount,1,False,1033,Inactive\n");
}

// --- 7: absolute partition locations; lake relocate -------------------------

TEST_F(LakeStructureTest, LocationsAreAbsoluteFileUrisEvenUnderAFolderWithASpace) {
  dir_ = base_ / "my lake \xC3\xBC";
  {
    auto w = OpenWriter(false);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "2024-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(w->Commit().ok());
    ASSERT_TRUE(w->Snapshot(t0_ + 1, 2).ok());
  }
  const std::string base_uri = "file://" + base_.string() + "/my%20lake%20%C3%BC";
  EXPECT_EQ(Entity()["partitions"][0]["location"], base_uri + "/account/2024.csv");
  EXPECT_EQ(Entity("account_partitioned")["partitions"][0]["location"],
            base_uri + "/account/Snapshot/2024_20260101T000001Z.csv");
  EXPECT_EQ(lake::PathOfFileUri(base_uri + "/account/2024.csv"),
            (dir_ / "account" / "2024.csv").string());
  // Reopened (and an older lake's relative location) reads back and is
  // written absolute again.
  lake_.reset();
  json model = Model();
  model["entities"][0]["partitions"][0]["location"] = "account/2024.csv";
  ASSERT_TRUE(WriteFileAtomic((dir_ / "model.json").string(), model.dump()).ok());
  auto w = OpenWriter(false);
  ASSERT_TRUE(w->Begin(false, t0_ + 5).ok());
  ASSERT_TRUE(Put(*w, "a2", "2023-03-01T10:00:00Z", 2).ok());
  ASSERT_TRUE(w->Commit().ok());
  for (const json model = Model(); const auto& e : model["entities"]) {
    for (const auto& p : e["partitions"]) {
      EXPECT_THAT(p["location"].get<std::string>(), ::testing::StartsWith(base_uri + "/account/"));
      EXPECT_TRUE(fs::exists(*lake::PathOfFileUri(p["location"].get<std::string>()))) << p;
    }
  }
}

TEST_F(LakeStructureTest, RelocateRewritesTheLocationsOfAMovedLake) {
  {
    auto w = OpenWriter(false);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "a1", "2024-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(Put(*w, "a2", "2025-03-01T10:00:00Z", 2).ok());
    ASSERT_TRUE(w->Commit().ok());
    ASSERT_TRUE(w->Snapshot(t0_ + 1, 2).ok());
  }
  // While the lake is open (a running agent holds it), relocate refuses.
  auto busy = lake::RelocateLake(dir_.string());
  ASSERT_FALSE(busy.ok());
  EXPECT_THAT(busy.message(), HasSubstr("in use by a running linkwatch"));
  lake_.reset();

  const fs::path moved = base_ / "moved here";
  fs::rename(dir_, moved);
  auto changes = lake::RelocateLake(moved.string());
  ASSERT_TRUE(changes.ok()) << changes.message();
  EXPECT_EQ(changes->size(), 4u);  // two partitions and their snapshots
  dir_ = moved;
  for (const json model = Model(); const auto& e : model["entities"]) {
    for (const auto& p : e["partitions"]) {
      const std::string loc = p["location"];
      EXPECT_THAT(loc,
                  ::testing::StartsWith("file://" + base_.string() + "/moved%20here/account/"));
      EXPECT_TRUE(fs::exists(*lake::PathOfFileUri(loc))) << loc;
    }
  }
  // Again: nothing left to change.
  auto again = lake::RelocateLake(moved.string());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  // And the agent goes on from the new place.
  auto w = OpenWriter(false);
  ASSERT_NE(w, nullptr);
}

TEST_F(LakeStructureTest, RelocateRefusesWhatItCannotMapAndChangesNothing) {
  fs::create_directories(dir_);
  auto missing = lake::RelocateLake(dir_.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), HasSubstr("model.json does not exist"));

  ASSERT_TRUE(WriteFileAtomic((dir_ / "model.json").string(), "{not json").ok());
  auto corrupt = lake::RelocateLake(dir_.string());
  ASSERT_FALSE(corrupt.ok());
  EXPECT_THAT(corrupt.message(), HasSubstr("not a readable CDM manifest"));

  fs::create_directories(dir_ / "account");
  ASSERT_TRUE(WriteFileAtomic((dir_ / "account" / "2024.csv").string(), "").ok());
  auto model_with = [&](const std::string& location) {
    json m = {{"name", "cdm"},
              {"version", "1.0"},
              {"entities",
               json::array(
                   {{{"$type", "LocalEntity"},
                     {"name", "account"},
                     {"attributes", json::array()},
                     {"partitions", json::array({{{"name", "2024"}, {"location", location}}})}}})}};
    const std::string text = m.dump(2);
    EXPECT_TRUE(WriteFileAtomic((dir_ / "model.json").string(), text).ok());
    return text;
  };
  for (const std::string& bad :
       {std::string("https://acct.dfs.core.windows.net/c/account/2024.csv"),
        std::string("file:///elsewhere/contact/2024.csv"),
        std::string("file:///old/place/account/2099.csv"), std::string("../outside.csv")}) {
    const std::string text = model_with(bad);
    auto r = lake::RelocateLake(dir_.string());
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.message(), HasSubstr("nothing changed")) << bad;
    EXPECT_EQ(*ReadFile((dir_ / "model.json").string()), text) << bad;
  }
  // The old relative form is mapped (made absolute).
  model_with("account/2024.csv");
  auto ok = lake::RelocateLake(dir_.string());
  ASSERT_TRUE(ok.ok()) << ok.message();
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].to, lake::FileUri((dir_ / "account" / "2024.csv").string()));
}

// --- 9: the order of an in-place batch's renames ----------------------------

// After every rename, a reader that reads model.json and then its files
// finds every file and every live record (a moved one possibly twice).
// Issue 7 point 9, seen in integration.lake_readers: a reader that reads
// 2024 before a batch moving x 2025 -> 2024 and 2025 after it misses x
// whatever the rename order. The old copy therefore stays move_grace after
// the new one became visible; plain updates do not wait.
TEST_F(LakeStructureTest, AMovedRecordsOldCopyStaysForTheGraceTime) {
  {
    auto w = OpenWriter(false);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "x", "2025-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(Put(*w, "y", "2024-03-01T10:00:00Z", 2).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> renames;
  hook_ = [&](const std::string&, const std::string& partition, bool) {
    renames.push_back({partition, std::chrono::steady_clock::now()});
  };
  auto w = OpenWriter(false);
  lake_->move_grace = std::chrono::milliseconds(300);
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
  ASSERT_TRUE(Put(*w, "x", "2024-06-01T10:00:00Z", 3).ok());
  ASSERT_TRUE(w->Commit().ok());
  ASSERT_EQ(renames.size(), 2u);
  EXPECT_EQ(renames[0].first, "2024");
  EXPECT_EQ(renames[1].first, "2025");
  EXPECT_GE(renames[1].second - renames[0].second, std::chrono::milliseconds(300));

  // An update that stays in its partition does not wait.
  renames.clear();
  lake_->move_grace = std::chrono::hours(1);
  ASSERT_TRUE(w->Begin(false, t0_ + 90).ok());
  ASSERT_TRUE(Put(*w, "y", "2024-03-01T10:00:00Z", 4).ok());
  ASSERT_TRUE(w->Commit().ok());
  ASSERT_EQ(renames.size(), 1u);
  EXPECT_EQ(renames[0].first, "2024");
}

TEST_F(LakeStructureTest, InPlaceRenamesNeverHideALiveRecordOrAListedFile) {
  {
    auto w = OpenWriter(false);
    ASSERT_TRUE(w->Begin(true, t0_).ok());
    ASSERT_TRUE(Put(*w, "x", "2023-03-01T10:00:00Z", 1).ok());
    ASSERT_TRUE(Put(*w, "y", "2024-03-01T10:00:00Z", 2).ok());
    ASSERT_TRUE(Put(*w, "z", "2025-03-01T10:00:00Z", 3).ok());
    ASSERT_TRUE(Put(*w, "solo", "2022-03-01T10:00:00Z", 4).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  std::vector<std::pair<std::string, bool>> renames;
  std::set<std::string> live;
  std::vector<std::string> problems;
  hook_ = [&](const std::string& table, const std::string& partition, bool gains_only) {
    EXPECT_EQ(table, "account");
    renames.push_back({partition, gains_only});
    std::set<std::string> seen;
    for (const json entity = Entity(); const auto& p : entity["partitions"]) {
      auto path = lake::PathOfFileUri(p["location"].get<std::string>());
      auto text = ReadFile(*path);
      if (!text.ok()) {
        problems.push_back("missing file " + *path + " after renaming " + partition);
        continue;
      }
      for (const auto& line : Lines(*text)) seen.insert(line.substr(0, line.find(',')));
    }
    for (const auto& id : live) {
      if (!seen.count(id)) problems.push_back(id + " missing after renaming " + partition);
    }
  };
  auto w = OpenWriter(false);

  // x moves 2023 -> 2024: 2024 gains, so it goes first.
  live = {"x", "y", "z", "solo"};
  ASSERT_TRUE(w->Begin(false, t0_ + 60).ok());
  ASSERT_TRUE(Put(*w, "x", "2024-06-01T10:00:00Z", 5).ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_EQ(renames, (std::vector<std::pair<std::string, bool>>{{"2024", false}, {"2023", false}}));

  // x moves on into a partition that does not exist yet (2026): its file
  // first, then model.json listing it, then 2024 without x.
  renames.clear();
  ASSERT_TRUE(w->Begin(false, t0_ + 90).ok());
  ASSERT_TRUE(Put(*w, "x", "2026-06-01T10:00:00Z", 9).ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_EQ(renames, (std::vector<std::pair<std::string, bool>>{{"2026", false}, {"2024", false}}));
  EXPECT_THAT(problems, ::testing::IsEmpty());
  ASSERT_TRUE(w->Begin(false, t0_ + 100).ok());
  ASSERT_TRUE(Put(*w, "x", "2024-06-01T10:00:00Z", 10).ok());
  ASSERT_TRUE(w->Commit().ok());
  EXPECT_THAT(problems, ::testing::IsEmpty());

  // A cycle: y 2024 -> 2025 and z 2025 -> 2024, plus the last record of
  // 2022 deleted: one partition first gets only what moves in.
  renames.clear();
  live = {"x", "y", "z"};
  ASSERT_TRUE(w->Begin(false, t0_ + 120).ok());
  ASSERT_TRUE(Put(*w, "y", "2025-06-01T10:00:00Z", 6).ok());
  ASSERT_TRUE(Put(*w, "z", "2024-06-01T10:00:00Z", 7).ok());
  ASSERT_TRUE(Put(*w, "solo", "", 8, /*deleted=*/true).ok());
  ASSERT_TRUE(w->Commit().ok());
  // 2022 (loses only), 2024 and 2025 (a cycle): one of the cycle first
  // with its gains only, the other, then the first again.
  ASSERT_EQ(renames.size(), 4u);
  std::vector<std::pair<std::string, bool>> cycle;
  for (const auto& r : renames) {
    if (r.first != "2022") cycle.push_back(r);
  }
  ASSERT_EQ(cycle.size(), 3u);
  EXPECT_TRUE(cycle[0].second);
  EXPECT_FALSE(cycle[1].second);
  EXPECT_FALSE(cycle[2].second);
  EXPECT_EQ(cycle[0].first, cycle[2].first);
  EXPECT_NE(cycle[0].first, cycle[1].first);
  EXPECT_THAT(problems, ::testing::IsEmpty());
  // The emptied partitions stay as empty files, still listed.
  EXPECT_EQ(Partition("2022"), "");
  EXPECT_EQ(Partition("2023"), "");
  std::set<std::string> listed;
  for (const json entity = Entity(); const auto& p : entity["partitions"]) listed.insert(p["name"]);
  EXPECT_EQ(listed, (std::set<std::string>{"2022", "2023", "2024", "2025", "2026"}));
  EXPECT_EQ(Partition("2026"), "");
  // Each record once, in its partition.
  EXPECT_EQ(Lines(Partition("2024")).size(), 2u);
  EXPECT_EQ(Lines(Partition("2025")).size(), 1u);
  EXPECT_THAT(Partition("2025"), ::testing::StartsWith("y,"));
}

}  // namespace
}  // namespace linkwatch::sync
