#include "agent/sync/sources/sqlite_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "agent/state/db.h"

namespace linkwatch::sync {
namespace {

using ::testing::HasSubstr;

// What a read delivered, by key: version, deleted, and the "name" column.
struct Seen {
  int64_t version = 0;
  bool deleted = false;
  std::string name;
};

class SqliteSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lw_src_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "crm.db").string();
    auto db = state::Db::Open(path_);
    ASSERT_TRUE(db.ok()) << db.message();
    db_ = std::move(db).value();
    Exec(
        "CREATE TABLE account(accountid TEXT PRIMARY KEY, name TEXT, revenue REAL, "
        "employees INTEGER, active BOOLEAN, createdon DATETIME, price DECIMAL(10,2), photo BLOB);"
        "CREATE TABLE nokey(a TEXT, b TEXT);"
        "CREATE TABLE twokeys(a TEXT, b TEXT, PRIMARY KEY (a, b));"
        "INSERT INTO account(accountid, name) VALUES ('a1', 'Contoso'), ('a2', 'Fabrikam');");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Exec(const std::string& sql) { ASSERT_TRUE(db_->Exec(sql).ok()) << db_->LastError(); }

  std::unique_ptr<SqliteSource> Open() {
    auto src = SqliteSource::Open(path_);
    EXPECT_TRUE(src.ok()) << src.message();
    return src.ok() ? std::move(src).value() : nullptr;
  }

  static RowCallback Collect(const TableSchema& schema, std::map<std::string, Seen>& out) {
    const int name = schema.ColumnIndex("name");
    return [&out, name](const RowView& r) {
      Seen s{r.version, r.deleted, ""};
      if (!r.deleted) s.name = std::string(r.values[name].text);
      out[std::string(r.key.text)] = s;
      return Status::Ok();
    };
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<state::Db> db_;
};

TEST_F(SqliteSourceTest, RefusesAnUntrackedTableSayingHowToEnableIt) {
  auto src = Open();
  auto schema = src->Describe("account");
  ASSERT_FALSE(schema.ok());
  EXPECT_THAT(schema.message(), HasSubstr("has no change tracking"));
  EXPECT_THAT(schema.message(), HasSubstr("linkwatch source enable-change-tracking --db " + path_ +
                                          " --table account"));
}

TEST_F(SqliteSourceTest, RefusesMissingTablesAndTablesWithoutASingleKey) {
  EXPECT_THAT(EnableChangeTracking(path_, {"nosuch"}).message(), HasSubstr("no table \"nosuch\""));
  EXPECT_THAT(EnableChangeTracking(path_, {"nokey"}).message(), HasSubstr("has no primary key"));
  EXPECT_THAT(EnableChangeTracking(path_, {"twokeys"}).message(), HasSubstr("several columns"));
  // A failure changes nothing: not even the tables named before it.
  EXPECT_FALSE(EnableChangeTracking(path_, {"account", "nokey"}).ok());
  EXPECT_FALSE(Open()->Describe("account").ok());
}

TEST_F(SqliteSourceTest, DescribesColumnsWithLakeTypes) {
  ASSERT_TRUE(EnableChangeTracking(path_, {"account"}).ok());
  auto schema = Open()->Describe("account");
  ASSERT_TRUE(schema.ok()) << schema.message();
  EXPECT_EQ(schema->columns[schema->key].name, "accountid");
  EXPECT_EQ(schema->createdon, schema->ColumnIndex("createdon"));
  auto type = [&](const char* c) {
    return CdmDataType(schema->columns[schema->ColumnIndex(c)].type);
  };
  EXPECT_STREQ(type("name"), "string");
  EXPECT_STREQ(type("revenue"), "double");
  EXPECT_STREQ(type("employees"), "int64");
  EXPECT_STREQ(type("active"), "boolean");
  EXPECT_STREQ(type("createdon"), "dateTime");
  EXPECT_STREQ(type("price"), "decimal");
  EXPECT_STREQ(type("photo"), "string");
  EXPECT_TRUE(schema->columns[schema->ColumnIndex("photo")].binary);
}

TEST_F(SqliteSourceTest, EnablingTwiceIsHarmless) {
  ASSERT_TRUE(EnableChangeTracking(path_, {"account"}).ok());
  Exec("INSERT INTO account(accountid, name) VALUES ('a3', 'Northwind')");
  ASSERT_TRUE(EnableChangeTracking(path_, {"account"}).ok());
  Exec("UPDATE account SET name = 'Northwind Traders' WHERE accountid = 'a3'");
  auto src = Open();
  auto schema = src->Describe("account");
  ASSERT_TRUE(schema.ok());
  std::map<std::string, Seen> seen;
  auto cursor = src->ReadChanges(*schema, 0, 100, Collect(*schema, seen));
  ASSERT_TRUE(cursor.ok()) << cursor.message();
  // One net change for a3, with one trigger set (not two).
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen["a3"].version, 2);
  EXPECT_EQ(*cursor, 2);
}

TEST_F(SqliteSourceTest, InitialReadThenNetChangesFromTheCursor) {
  ASSERT_TRUE(EnableChangeTracking(path_, {"account"}).ok());
  Exec("UPDATE account SET name = 'Contoso Ltd' WHERE accountid = 'a1'");  // seq 1
  auto src = Open();
  auto schema = src->Describe("account");
  ASSERT_TRUE(schema.ok());
  EXPECT_EQ(*src->RowCount(*schema), 2);

  std::map<std::string, Seen> all;
  auto cursor = src->ReadAll(*schema, Collect(*schema, all));
  ASSERT_TRUE(cursor.ok()) << cursor.message();
  EXPECT_EQ(*cursor, 1);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all["a1"].version, 1);  // its latest change
  EXPECT_EQ(all["a1"].name, "Contoso Ltd");
  EXPECT_EQ(all["a2"].version, 0);  // untouched since tracking began

  Exec("INSERT INTO account(accountid, name) VALUES ('a3', 'Northwind')");  // 2
  Exec("UPDATE account SET name = 'Northwind 2' WHERE accountid = 'a3'");   // 3
  Exec("DELETE FROM account WHERE accountid = 'a2'");                       // 4
  Exec("UPDATE account SET accountid = 'a9' WHERE accountid = 'a1'");       // 5 (d a1), 6 (c a9)
  std::map<std::string, Seen> changes;
  cursor = src->ReadChanges(*schema, *cursor, 100, Collect(*schema, changes));
  ASSERT_TRUE(cursor.ok()) << cursor.message();
  EXPECT_EQ(*cursor, 6);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes["a3"].version, 3);
  EXPECT_EQ(changes["a3"].name, "Northwind 2");
  EXPECT_TRUE(changes["a2"].deleted);
  EXPECT_TRUE(changes["a1"].deleted);
  EXPECT_FALSE(changes["a9"].deleted);
  EXPECT_EQ(changes["a9"].name, "Contoso Ltd");
  EXPECT_EQ(*src->Head(), 6);

  // Nothing new: the cursor stays.
  std::map<std::string, Seen> none;
  auto again = src->ReadChanges(*schema, *cursor, 100, Collect(*schema, none));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 6);
  EXPECT_TRUE(none.empty());
}

TEST_F(SqliteSourceTest, ChangesComeInBatchesOldestFirst) {
  ASSERT_TRUE(EnableChangeTracking(path_, {"account"}).ok());
  for (int i = 0; i < 10; ++i) {
    Exec("INSERT INTO account(accountid, name) VALUES ('n" + std::to_string(i) + "', 'x')");
  }
  auto src = Open();
  auto schema = src->Describe("account");
  ASSERT_TRUE(schema.ok());
  Cursor cursor = 0;
  std::vector<int64_t> versions;
  for (int batch = 0; batch < 5; ++batch) {
    auto next = src->ReadChanges(*schema, cursor, 4, [&](const RowView& r) {
      versions.push_back(r.version);
      return Status::Ok();
    });
    ASSERT_TRUE(next.ok());
    cursor = *next;
  }
  EXPECT_EQ(versions, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST_F(SqliteSourceTest, IntegerKeysAndTypedValues) {
  Exec("CREATE TABLE item(id INTEGER PRIMARY KEY, qty INTEGER, price REAL, blob BLOB)");
  ASSERT_TRUE(EnableChangeTracking(path_, {"item"}).ok());
  Exec("INSERT INTO item VALUES (7, 3, 2.5, x'00ff')");
  auto src = Open();
  auto schema = src->Describe("item");
  ASSERT_TRUE(schema.ok());
  int rows = 0;
  auto cursor = src->ReadChanges(*schema, 0, 10, [&](const RowView& r) {
    ++rows;
    EXPECT_EQ(r.key.kind, Value::Kind::kInt);
    EXPECT_EQ(r.key.i, 7);
    EXPECT_EQ(r.values[1].i, 3);
    EXPECT_DOUBLE_EQ(r.values[2].d, 2.5);
    EXPECT_EQ(r.values[3].kind, Value::Kind::kBlob);
    EXPECT_EQ(r.values[3].text, std::string("\x00\xff", 2));
    EXPECT_GT(r.changed_at, 1.7e9);
    return Status::Ok();
  });
  ASSERT_TRUE(cursor.ok()) << cursor.message();
  EXPECT_EQ(rows, 1);
}

TEST_F(SqliteSourceTest, ACallbackErrorStopsTheRead) {
  ASSERT_TRUE(EnableChangeTracking(path_, {"account"}).ok());
  auto src = Open();
  auto schema = src->Describe("account");
  ASSERT_TRUE(schema.ok());
  auto r = src->ReadAll(*schema, [](const RowView&) { return Status::Error("disk full"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "disk full");
  // The connection is usable afterwards (the read transaction ended).
  EXPECT_TRUE(src->Head().ok());
  Exec("INSERT INTO account(accountid, name) VALUES ('a5', 'x')");
}

}  // namespace
}  // namespace linkwatch::sync
