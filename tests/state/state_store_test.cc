#include "agent/state/state_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>

namespace linkwatch::state {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lw_state_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path() const { return (dir_ / "state.db").string(); }
  // Runs `sql` on the file through a connection of its own (another tool's
  // write), closed before the test goes on.
  void Write(const std::string& sql) const {
    auto db = Db::Open(Path());
    ASSERT_TRUE(db.ok()) << db.message();
    ASSERT_TRUE((*db)->Exec(sql).ok()) << sql;
  }
  std::filesystem::path dir_;
};

TEST_F(StateStoreTest, CreatesSixTablesAndReadsPlainSqlRows) {
  auto store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  Db& db = (*store)->db();
  ASSERT_TRUE(db.Exec("INSERT INTO synapselinkprofile(name, profilestate) VALUES ('crm', 1);"
                      "INSERT INTO synapselinkprofileentitystate(entityname, profile, syncstate, "
                      "lastsynceddatatime, crmrecordcount) SELECT 'account', "
                      "synapselinkprofileid, 2, '2026-01-01T00:00:00Z', 10 FROM "
                      "synapselinkprofile")
                  .ok());
  auto snap = (*store)->Read();
  ASSERT_TRUE(snap.ok()) << snap.message();
  const auto& es = (*snap)[TableId::kEntityState];
  ASSERT_EQ(es.rows.size(), 1u);
  const auto& def = *es.def;
  EXPECT_EQ(es.rows[0][def.ColumnIndex("entityname")].text(), "account");
  EXPECT_EQ(es.rows[0][def.ColumnIndex("syncstate")].as_int64(), 2);
  EXPECT_DOUBLE_EQ(es.rows[0][def.ColumnIndex("lastsynceddatatime")].number, 1767225600.0);
  EXPECT_TRUE(es.rows[0][def.ColumnIndex("lakerecordcount")].is_null());
  EXPECT_EQ(es.rows[0][0].text().size(), 36u);  // generated GUID
}

// Schema version 4: a table's error reason and last break, read into the
// snapshot and into the sync record that rules join (sync.<col>).
TEST_F(StateStoreTest, ReadsErrorReasonsAndBreaksIntoTheSyncRecord) {
  auto store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  ASSERT_TRUE((*store)
                  ->db()
                  .Exec("INSERT INTO linkwatch_sync_error(profile, entity, error, at, attempts, "
                        "reason) VALUES ('crm', 'account', 'broke', 100, 2, 'partition_missing'),"
                        "('crm', 'lead', 'locked', 200, 1, 'round_failed');"
                        "INSERT INTO linkwatch_sync_break(profile, entity, reason, message, at, "
                        "repaired_at) VALUES ('crm', 'account', 'partition_missing', 'gone', 100, "
                        "NULL), ('crm', 'contact', 'source_restored', 'back', 50, 51)")
                  .ok());
  auto snap = (*store)->Read();
  ASSERT_TRUE(snap.ok()) << snap.message();
  ASSERT_EQ(snap->sync_errors.size(), 2u);
  ASSERT_EQ(snap->sync_breaks.size(), 2u);
  const auto& sync = (*snap)[TableId::kSync];
  ASSERT_EQ(sync.rows.size(), 3u);  // account, lead, contact
  std::map<std::string, const Row*> by_entity;
  for (const auto& r : sync.rows)
    by_entity[std::string(r[sync.def->ColumnIndex("entityname")].text())] = &r;
  auto cell = [&](const std::string& entity, const char* column) {
    return (*by_entity.at(entity))[sync.def->ColumnIndex(column)];
  };
  EXPECT_EQ(cell("account", "profile").text(), "crm");
  EXPECT_EQ(cell("account", "errorreason").text(), "partition_missing");
  EXPECT_EQ(cell("account", "errorattempts").as_int64(), 2);
  EXPECT_EQ(cell("account", "lastbreakreason").text(), "partition_missing");
  EXPECT_DOUBLE_EQ(cell("account", "lastbreaktime").as_double(), 100);
  EXPECT_TRUE(cell("account", "lastrepairtime").is_null());
  EXPECT_TRUE(cell("lead", "lastbreakreason").is_null());
  EXPECT_EQ(cell("lead", "error").text(), "locked");
  EXPECT_TRUE(cell("contact", "error").is_null());
  EXPECT_DOUBLE_EQ(cell("contact", "lastrepairtime").as_double(), 51);
}

// A state store of schema version 3 (an older linkwatch) is migrated: its
// errors keep their rows and get an empty reason.
TEST_F(StateStoreTest, MigratesVersion3ErrorsToVersion4) {
  {
    auto db = Db::Open(Path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE linkwatch_sync_error (profile TEXT NOT NULL, entity TEXT "
                           "NOT NULL, error TEXT NOT NULL, at REAL NOT NULL, attempts INTEGER NOT "
                           "NULL DEFAULT 1, PRIMARY KEY (profile, entity));"
                           "INSERT INTO linkwatch_sync_error VALUES ('crm', 'a', 'old', 1, 1);"
                           "PRAGMA user_version = 3")
                    .ok());
    auto snap = ReadSnapshot(**db);  // an older store reads too
    ASSERT_TRUE(snap.ok()) << snap.message();
    ASSERT_EQ(snap->sync_errors.size(), 1u);
    EXPECT_EQ(snap->sync_errors[0].reason, "");
  }
  auto store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  auto snap = (*store)->Read();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->sync_errors.size(), 1u);
  EXPECT_EQ(snap->sync_errors[0].error, "old");
  EXPECT_TRUE(snap->sync_breaks.empty());
}

TEST_F(StateStoreTest, MigratesVersion4IntegerCursorsToText) {
  {
    auto store = StateStore::Open(Path());
    ASSERT_TRUE(store.ok()) << store.message();
    // The table as version 4 had it, with a cursor as version 4 wrote it.
    ASSERT_TRUE((*store)
                    ->db()
                    .Exec("DROP TABLE linkwatch_sync_cursor;"
                          "CREATE TABLE linkwatch_sync_cursor (profileentity TEXT PRIMARY KEY, "
                          "profile TEXT NOT NULL, entity TEXT NOT NULL, cursor INTEGER NOT NULL, "
                          "marker TEXT NOT NULL DEFAULT '', updated_at REAL NOT NULL);"
                          "INSERT INTO linkwatch_sync_cursor VALUES ('pe1', 'crm', 'account', "
                          "'42', '{\"2024\":{}}', 1.5);"
                          "PRAGMA user_version = 4")
                    .ok());
  }
  auto store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  Db& db = (*store)->db();
  auto st = db.Prepare(
      "SELECT profileentity || '|' || profile || '|' || entity || '|' || cursor || '|' || "
      "typeof(cursor) || '|' || marker || '|' || updated_at FROM linkwatch_sync_cursor");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(st->Step());
  EXPECT_EQ(st->Text(0), "pe1|crm|account|42|text|{\"2024\":{}}|1.5");
  st->Reset();
  // An opaque cursor that looks like a number stays as written.
  ASSERT_TRUE(db.Exec("UPDATE linkwatch_sync_cursor SET cursor = '007'").ok());
  auto again = db.Prepare("SELECT cursor FROM linkwatch_sync_cursor");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->Step());
  EXPECT_EQ(again->Text(0), "007");
}

// The sync supervisor reads one row each second to learn whether anything
// linked changed (sync/state_rows.h LinkGeneration): the generation must
// move with every such change, by any writer, and with nothing else.
TEST_F(StateStoreTest, LinkGenerationMovesWithLinksOnly) {
  auto store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  Db& db = (*store)->db();
  auto generation = [&] {
    auto st = db.Prepare("SELECT n FROM linkwatch_link_generation");
    EXPECT_TRUE(st.ok() && st->Step());
    return st.ok() ? st->Int(0) : -1;
  };
  int64_t last = generation();
  auto moves = [&](const char* sql) {
    EXPECT_TRUE(db.Exec(sql).ok()) << sql;
    const int64_t now = generation();
    const bool moved = now != last;
    last = now;
    return moved;
  };
  EXPECT_TRUE(
      moves("INSERT INTO synapselinkprofile(synapselinkprofileid, name, profilestate) "
            "VALUES ('p1', 'crm', 1)"));
  EXPECT_TRUE(
      moves("INSERT INTO synapselinkprofileentity(synapselinkprofileentityid, profile, "
            "entityname) VALUES ('pe1', 'p1', 'account')"));
  EXPECT_TRUE(
      moves("INSERT INTO synapselinkprofileentitystate(synapselinkprofileentitystateid, "
            "profileentity, entityname) VALUES ('s1', 'pe1', 'account')"));
  // A round's and a heartbeat's writes.
  EXPECT_FALSE(
      moves("UPDATE synapselinkprofileentitystate SET lastsynceddatatime = "
            "'2026-01-01T00:00:00Z', syncstate = 2, modifiedon = '2026-01-01T00:00:00Z'"));
  EXPECT_FALSE(moves("UPDATE synapselinkprofile SET modifiedon = '2026-01-01T00:00:00Z'"));
  EXPECT_TRUE(moves("UPDATE synapselinkprofile SET profilestate = 0"));
  EXPECT_TRUE(moves("UPDATE synapselinkprofile SET name = 'crm2'"));
  EXPECT_TRUE(moves("UPDATE synapselinkprofileentity SET entityname = 'contact'"));
  EXPECT_TRUE(moves("UPDATE synapselinkprofileentitystate SET profileentity = 'pe1'"));
  EXPECT_TRUE(moves("DELETE FROM synapselinkprofileentitystate"));
  EXPECT_TRUE(moves("DELETE FROM synapselinkprofileentity"));
  EXPECT_TRUE(moves("DELETE FROM synapselinkprofile"));
  // A store migrated from an earlier version has the generation too.
  ASSERT_TRUE(db.Exec("DROP TABLE linkwatch_link_generation;"
                      "DROP TRIGGER linkwatch_link_synapselinkprofile_insert;"
                      "DROP TRIGGER linkwatch_link_synapselinkprofile_delete;"
                      "DROP TRIGGER linkwatch_link_synapselinkprofile_update;"
                      "DROP TRIGGER linkwatch_link_synapselinkprofileentity_insert;"
                      "DROP TRIGGER linkwatch_link_synapselinkprofileentity_delete;"
                      "DROP TRIGGER linkwatch_link_synapselinkprofileentity_update;"
                      "DROP TRIGGER linkwatch_link_synapselinkprofileentitystate_insert;"
                      "DROP TRIGGER linkwatch_link_synapselinkprofileentitystate_delete;"
                      "DROP TRIGGER linkwatch_link_synapselinkprofileentitystate_update;"
                      "PRAGMA user_version = 5")
                  .ok());
  store->reset();
  store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  Db& migrated = (*store)->db();
  ASSERT_TRUE(migrated
                  .Exec("INSERT INTO synapselinkprofile(synapselinkprofileid, name) "
                        "VALUES ('p3', 'erp')")
                  .ok());
  auto st = migrated.Prepare("SELECT n FROM linkwatch_link_generation");
  ASSERT_TRUE(st.ok() && st->Step());
  EXPECT_EQ(st->Int(0), 1);
}

TEST_F(StateStoreTest, ReadsForeignFileWithMissingColumns) {
  Write(
      "CREATE TABLE synapselinkprofileentitystate (entityname TEXT, "
      "syncstate INTEGER); INSERT INTO synapselinkprofileentitystate "
      "VALUES ('contact', 4)");
  auto db = Db::Open(Path(), Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok());
  auto snap = ReadSnapshot(**db);
  ASSERT_TRUE(snap.ok()) << snap.message();
  EXPECT_EQ((*snap)[TableId::kEntityState].rows.size(), 1u);
  EXPECT_TRUE((*snap)[TableId::kProfile].rows.empty());
}

// The watcher keeps its plan between reads: a column or table that appears
// (another tool migrating the file) is read from the next read on.
TEST_F(StateStoreTest, AKeptPlanFollowsTheFilesSchema) {
  Write(
      "CREATE TABLE synapselinkprofileentitystate (entityname TEXT); "
      "INSERT INTO synapselinkprofileentitystate VALUES ('contact')");
  auto db = Db::Open(Path(), Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok());
  SnapshotPlan plan;
  const TableDef& def = Table(TableId::kEntityState);
  const int syncstate = def.ColumnIndex("syncstate");
  auto first = ReadSnapshot(**db, &plan);
  ASSERT_TRUE(first.ok()) << first.message();
  ASSERT_EQ((*first)[TableId::kEntityState].rows.size(), 1u);
  EXPECT_TRUE((*first)[TableId::kEntityState].rows[0][syncstate].is_null());
  EXPECT_TRUE((*first)[TableId::kProfile].rows.empty());
  Write(
      "ALTER TABLE synapselinkprofileentitystate ADD COLUMN syncstate "
      "INTEGER; UPDATE synapselinkprofileentitystate SET syncstate = 4; "
      "CREATE TABLE synapselinkprofile (name TEXT); "
      "INSERT INTO synapselinkprofile VALUES ('crm')");
  auto second = ReadSnapshot(**db, &plan);
  ASSERT_TRUE(second.ok()) << second.message();
  ASSERT_EQ((*second)[TableId::kEntityState].rows.size(), 1u);
  EXPECT_EQ((*second)[TableId::kEntityState].rows[0][syncstate].as_int64(), 4);
  EXPECT_EQ((*second)[TableId::kProfile].rows.size(), 1u);
  // And a table that goes away reads as empty again.
  Write("DROP TABLE synapselinkprofile");
  auto third = ReadSnapshot(**db, &plan);
  ASSERT_TRUE(third.ok()) << third.message();
  EXPECT_TRUE((*third)[TableId::kProfile].rows.empty());
  EXPECT_EQ((*third)[TableId::kEntityState].rows.size(), 1u);
}

TEST_F(StateStoreTest, MigrationIsIdempotentAndVersioned) {
  ASSERT_TRUE(StateStore::Open(Path()).ok());
  auto again = StateStore::Open(Path());
  ASSERT_TRUE(again.ok());
  auto st = (*again)->db().Prepare("PRAGMA user_version");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(st->Step());
  EXPECT_EQ(st->Int(0), kSchemaVersion);
}

TEST_F(StateStoreTest, RefusesNewerSchema) {
  {
    auto db = Db::Open(Path());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 99").ok());
  }
  auto store = StateStore::Open(Path());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.message().find("newer"), std::string::npos);
}

// Issue 7 point 11: alerts and outbox rows went into the deleted state.db.
TEST_F(StateStoreTest, NeverCommitsIntoADeletedFile) {
  auto store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  Db& db = (*store)->db();
  EXPECT_TRUE(db.CheckFile().ok());
  ASSERT_TRUE(db.Exec("INSERT INTO synapselinkprofile(name) VALUES ('a')").ok());
  std::filesystem::remove(Path());
  const Status check = db.CheckFile();
  EXPECT_FALSE(check.ok());
  EXPECT_NE(check.message().find("deleted"), std::string::npos) << check.message();

  // Autocommit statements, explicit transactions and prepared statements
  // all fail with the reason.
  const Status exec = db.Exec("INSERT INTO synapselinkprofile(name) VALUES ('b')");
  EXPECT_FALSE(exec.ok());
  EXPECT_NE(exec.message().find("refusing to commit"), std::string::npos) << exec.message();
  {
    Transaction tx(db);
    ASSERT_TRUE(tx.status().ok());
    ASSERT_TRUE(db.Exec("INSERT INTO synapselinkprofile(name) VALUES ('c')").ok());
    EXPECT_FALSE(tx.Commit().ok());
  }
  auto st = db.Prepare("INSERT INTO synapselinkprofile(name) VALUES ('d')");
  ASSERT_TRUE(st.ok());
  const Status run = st->Run();
  EXPECT_NE(run.message().find("deleted"), std::string::npos) << run.message();
  // Nothing of it reached the unlinked file either.
  auto count = db.Prepare("SELECT count(*) FROM synapselinkprofile");
  ASSERT_TRUE(count.ok() && count->Step());
  EXPECT_EQ(count->Int(0), 1);
}

TEST_F(StateStoreTest, NoticesAReplacedFile) {
  auto store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  {
    auto other = Db::Open((dir_ / "other.db").string());
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->Exec("CREATE TABLE t (x)").ok());
  }
  std::filesystem::rename(dir_ / "other.db", Path());
  const Status check = (*store)->db().CheckFile();
  EXPECT_NE(check.message().find("replaced"), std::string::npos) << check.message();
  EXPECT_FALSE((*store)->db().Exec("INSERT INTO synapselinkprofile(name) VALUES ('b')").ok());
}

TEST(SchemaTest, ChoiceLabelsAreCaseInsensitive) {
  EXPECT_EQ(EntitySyncStateChoices().CodeOf("inprogress"), 2);
  EXPECT_EQ(*ProfileStateChoices().LabelOf(6), "Suspended");
  EXPECT_FALSE(ProfileStateChoices().CodeOf("Nope").has_value());
}

// Issue 7 point 13: numbers at the limits keep their exact value or read as
// null; text that is not entirely a number reads as null, never coerced; each
// nulled value is reported once per read with its row, column and value.
TEST_F(StateStoreTest, IntegerColumnsAreRangeCheckedAndNeverCoerced) {
  auto store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  Db& db = (*store)->db();
  ASSERT_TRUE(db.Exec("INSERT INTO synapselinkprofileentitystate(synapselinkprofileentitystateid, "
                      "entityname, lakerecordcount, crmrecordcount, syncstate, initialsyncstate) "
                      "VALUES "
                      "('r1', 'max', 9223372036854775807, -9223372036854775808, 4, 64),"
                      "('r2', 'huge', 1e308, 9.3e18, 2.5, 4.0),"
                      "('r3', 'text', 'abc', '12abc', 'InProgress', '8'),"
                      "('r4', 'exact', '  42 ', '1e3', 4294967296, 3),"
                      "('r5', 'nonfinite', 'Infinity', 9e999, -9e999, '')")
                  .ok());
  auto snap = (*store)->Read();
  ASSERT_TRUE(snap.ok()) << snap.message();
  const auto& es = (*snap)[TableId::kEntityState];
  const auto& def = *es.def;
  const int lake = def.ColumnIndex("lakerecordcount"), crm = def.ColumnIndex("crmrecordcount"),
            sync = def.ColumnIndex("syncstate"), initial = def.ColumnIndex("initialsyncstate");
  std::map<std::string, const Row*> by_id;
  for (const auto& r : es.rows) by_id[std::string(r[0].text())] = &r;
  ASSERT_EQ(by_id.size(), 5u);
  const Row& max = *by_id["r1"];
  EXPECT_EQ(max[lake].kind, Cell::Kind::kInt);
  EXPECT_EQ(max[lake].integer, INT64_MAX);
  EXPECT_EQ(max[crm].integer, INT64_MIN);
  EXPECT_EQ(max[sync].as_int64(), 4);
  EXPECT_EQ(max[initial].as_int64(), 64);
  const Row& huge = *by_id["r2"];
  EXPECT_TRUE(huge[lake].is_null());       // 1e308: beyond int64
  EXPECT_TRUE(huge[crm].is_null());        // 9.3e18: beyond int64
  EXPECT_TRUE(huge[sync].is_null());       // 2.5: not a choice code
  EXPECT_EQ(huge[initial].as_int64(), 4);  // 4.0 is the code 4
  const Row& text = *by_id["r3"];
  EXPECT_TRUE(text[lake].is_null());  // 'abc' is not 0
  EXPECT_TRUE(text[crm].is_null());   // '12abc' is not 12
  EXPECT_TRUE(text[sync].is_null());
  EXPECT_EQ(text[initial].as_int64(), 8);  // '8' is entirely a number
  const Row& exact = *by_id["r4"];
  EXPECT_EQ(exact[lake].as_int64(), 42);
  EXPECT_EQ(exact[crm].as_int64(), 1000);
  EXPECT_TRUE(exact[sync].is_null());       // beyond int32: not a choice code
  EXPECT_EQ(exact[initial].as_int64(), 3);  // unknown code: kept as its code
  const Row& nonfinite = *by_id["r5"];
  EXPECT_TRUE(nonfinite[lake].is_null());
  EXPECT_TRUE(nonfinite[crm].is_null());
  EXPECT_TRUE(nonfinite[sync].is_null());
  EXPECT_TRUE(nonfinite[initial].is_null());

  std::set<std::string> reported;
  for (const auto& v : snap->invalid_values) {
    EXPECT_EQ(v.table, TableId::kEntityState);
    reported.insert(v.row_id + "." + v.column + "=" + v.value);
  }
  const std::set<std::string> expected = {
      "r2.lakerecordcount=1e+308", "r2.crmrecordcount=9.3e+18",   "r2.syncstate=2.5",
      "r3.lakerecordcount=abc",    "r3.crmrecordcount=12abc",     "r3.syncstate=InProgress",
      "r4.syncstate=4294967296",   "r5.lakerecordcount=Infinity", "r5.crmrecordcount=inf",
      "r5.syncstate=-inf",         "r5.initialsyncstate="};
  EXPECT_EQ(reported, expected);
  const auto it = std::find_if(snap->invalid_values.begin(), snap->invalid_values.end(),
                               [](const auto& v) { return v.value == "12abc"; });
  ASSERT_NE(it, snap->invalid_values.end());
  EXPECT_EQ(it->ToString(),
            "synapselinkprofileentitystate.crmrecordcount of row r3: not a number: \"12abc\" "
            "(read as null)");
}

// Issue 7 points 15 and 17: an unparseable datetime reads as null and is
// reported; 9999-12-31T23:59:59.999999999Z stays in its second.
TEST_F(StateStoreTest, DatetimesAreReportedAndNeverRoundedUp) {
  auto store = StateStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.message();
  Db& db = (*store)->db();
  ASSERT_TRUE(db.Exec("INSERT INTO synapselinkprofileentitystate(synapselinkprofileentitystateid, "
                      "entityname, lastsynceddatatime, additiontime) VALUES "
                      "('r1', 'a', '9999-12-31T23:59:59.999999999Z', 'yesterday')")
                  .ok());
  auto snap = (*store)->Read();
  ASSERT_TRUE(snap.ok()) << snap.message();
  const auto& es = (*snap)[TableId::kEntityState];
  const auto& def = *es.def;
  const Cell& last = es.rows[0][def.ColumnIndex("lastsynceddatatime")];
  ASSERT_TRUE(last.is_number());
  EXPECT_LT(last.number, 253402300800.0);
  EXPECT_TRUE(es.rows[0][def.ColumnIndex("additiontime")].is_null());
  ASSERT_EQ(snap->invalid_values.size(), 1u);
  EXPECT_EQ(snap->invalid_values[0].column, "additiontime");
  EXPECT_EQ(snap->invalid_values[0].value, "yesterday");
}

}  // namespace
}  // namespace linkwatch::state
