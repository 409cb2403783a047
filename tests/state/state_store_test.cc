#include "agent/state/state_store.h"

#include <gtest/gtest.h>

#include <filesystem>

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
  EXPECT_EQ(es.rows[0][def.ColumnIndex("syncstate")].number, 2);
  EXPECT_DOUBLE_EQ(es.rows[0][def.ColumnIndex("lastsynceddatatime")].number, 1767225600.0);
  EXPECT_TRUE(es.rows[0][def.ColumnIndex("lakerecordcount")].is_null());
  EXPECT_EQ(es.rows[0][0].text().size(), 36u);  // generated GUID
}

TEST_F(StateStoreTest, ReadsForeignFileWithMissingColumns) {
  {
    auto db = Db::Open(Path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE synapselinkprofileentitystate (entityname TEXT, "
                           "syncstate INTEGER); INSERT INTO synapselinkprofileentitystate "
                           "VALUES ('contact', 4)")
                    .ok());
  }
  auto db = Db::Open(Path(), Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok());
  auto snap = ReadSnapshot(**db);
  ASSERT_TRUE(snap.ok()) << snap.message();
  EXPECT_EQ((*snap)[TableId::kEntityState].rows.size(), 1u);
  EXPECT_TRUE((*snap)[TableId::kProfile].rows.empty());
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

}  // namespace
}  // namespace linkwatch::state
