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
  auto cursor = src->ReadChanges(*schema, "0", 100, Collect(*schema, seen));
  ASSERT_TRUE(cursor.ok()) << cursor.message();
  // One net change for a3, with one trigger set (not two).
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen["a3"].version, 2);
  EXPECT_EQ(*cursor, "2");
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
  EXPECT_EQ(*cursor, "1");
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
  EXPECT_EQ(*cursor, "6");
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes["a3"].version, 3);
  EXPECT_EQ(changes["a3"].name, "Northwind 2");
  EXPECT_TRUE(changes["a2"].deleted);
  EXPECT_TRUE(changes["a1"].deleted);
  EXPECT_FALSE(changes["a9"].deleted);
  EXPECT_EQ(changes["a9"].name, "Contoso Ltd");
  EXPECT_EQ(*src->Head(), "6");

  // Nothing new: the cursor stays.
  std::map<std::string, Seen> none;
  auto again = src->ReadChanges(*schema, *cursor, 100, Collect(*schema, none));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "6");
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
  Cursor cursor = "0";
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
  auto cursor = src->ReadChanges(*schema, "0", 10, [&](const RowView& r) {
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

// --- Breaks in the chain of changes (issue 8, docs/sync.md "Breaks") ---

// A linked table's reads as the engine makes them: an initial read, then
// rounds that check the chain, read changes and checkpoint the cursor.
class ChainTest : public SqliteSourceTest {
 protected:
  void SetUp() override {
    SqliteSourceTest::SetUp();
    ASSERT_TRUE(EnableChangeTracking(path_, {"account"}).ok());
    src_ = Open();
    auto schema = src_->Describe("account");
    ASSERT_TRUE(schema.ok()) << schema.message();
    schema_ = *schema;
    auto cursor = src_->ReadAll(schema_, [](const RowView&) { return Status::Ok(); });
    ASSERT_TRUE(cursor.ok()) << cursor.message();
    committed_ = *cursor;
    ASSERT_TRUE(src_->Checkpoint(schema_, kConsumer, committed_).ok());
  }

  // One incremental round; the committed cursor moves when it succeeds.
  Status Round() {
    if (auto s = src_->CheckChain("account", kConsumer, committed_); !s.ok()) return s;
    auto cursor =
        src_->ReadChanges(schema_, committed_, 1000, [](const RowView&) { return Status::Ok(); });
    if (!cursor) return cursor.status();
    if (*cursor != committed_) {
      if (auto s = src_->Checkpoint(schema_, kConsumer, *cursor); !s.ok()) return s;
      committed_ = *cursor;
    }
    return Status::Ok();
  }

  // `from` copied over the source path as a new file (a restore: new inode),
  // with every connection closed, as an operator restores a file.
  void Restore(const std::filesystem::path& from) {
    src_.reset();
    db_.reset();
    const auto tmp = dir_ / "restoring.db";
    std::filesystem::copy_file(from, tmp, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(tmp, path_);
  }
  // A consistent copy of the source (VACUUM INTO: the WAL included).
  std::filesystem::path Backup(const std::string& name) {
    const auto to = dir_ / name;
    Exec("VACUUM INTO '" + to.string() + "'");
    return to;
  }
  // The fixture's writer connection, reopened on the file at the path now.
  void ReopenWriter() {
    db_.reset();
    auto db = state::Db::Open(path_);
    ASSERT_TRUE(db.ok()) << db.message();
    db_ = std::move(db).value();
  }

  static constexpr const char* kConsumer = "pe-1";
  std::unique_ptr<SqliteSource> src_;
  TableSchema schema_;
  Cursor committed_ = "0";
};

TEST_F(ChainTest, RoundsPassWhileNothingBreaks) {
  for (int i = 0; i < 3; ++i) {
    Exec("INSERT INTO account(accountid, name) VALUES ('n" + std::to_string(i) + "', 'x')");
    ASSERT_TRUE(Round().ok()) << Round().message();
  }
  EXPECT_EQ(committed_, "3");
  // A checkpoint ahead of the committed cursor (a crash between the two
  // writes) is no break.
  ASSERT_TRUE(src_->Checkpoint(schema_, kConsumer,
                               SqliteSource::CursorAt(*SqliteSource::SequenceOf(committed_) + 5))
                  .ok());
  EXPECT_TRUE(src_->CheckChain("account", kConsumer, committed_).ok());
}

TEST_F(ChainTest, ARestoreIsABreakAtOnce) {
  const auto backup = Backup("backup.db");
  Exec("INSERT INTO account(accountid, name) VALUES ('a3', 'x'), ('a4', 'y')");
  ASSERT_TRUE(Round().ok());
  ASSERT_EQ(committed_, "2");
  Restore(backup);
  auto src = SqliteSource::Open(path_);
  ASSERT_TRUE(src.ok());
  const Status s = (*src)->CheckChain("account", kConsumer, committed_);
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "source_restored");
}

TEST_F(ChainTest, ARestoreFollowedByManyChangesIsABreakToo) {
  const auto backup = Backup("backup.db");
  Exec("INSERT INTO account(accountid, name) VALUES ('a3', 'x'), ('a4', 'y')");
  ASSERT_TRUE(Round().ok());
  ASSERT_EQ(committed_, "2");
  // While the agent is down: restored, then more changes than were lost, so
  // the clock is past the committed cursor again.
  Restore(backup);
  ReopenWriter();
  for (int i = 0; i < 10; ++i) {
    Exec("INSERT INTO account(accountid, name) VALUES ('r" + std::to_string(i) + "', 'z')");
  }
  auto src = SqliteSource::Open(path_);
  ASSERT_TRUE(src.ok());
  ASSERT_GT(*SqliteSource::SequenceOf(*(*src)->Head()), *SqliteSource::SequenceOf(committed_));
  const Status s = (*src)->CheckChain("account", kConsumer, committed_);
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "source_restored");
  EXPECT_THAT(s.message(), HasSubstr("behind the committed cursor 2"));
}

TEST_F(ChainTest, ACursorOfAnotherSourceTypeIsABreak) {
  // An opaque cursor another source type wrote (a Dataverse delta token):
  // this source cannot continue from it, so the table is synced again.
  const Status s = src_->CheckChain("account", kConsumer, "919042!08/22/2017 08:10:44");
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "source_replaced");
  EXPECT_EQ(src_->ReadChanges(schema_, "x1", 10, [](const RowView&) { return Status::Ok(); })
                .status()
                .reason(),
            "source_replaced");
  EXPECT_FALSE(src_->Checkpoint(schema_, kConsumer, "").ok());
}

TEST_F(ChainTest, TheSourceSaysWhetherChangesAreWaiting) {
  auto waiting = src_->ChangesWaiting(schema_, committed_);
  ASSERT_TRUE(waiting.ok()) << waiting.message();
  EXPECT_FALSE(*waiting);
  Exec("INSERT INTO account(accountid, name) VALUES ('w1', 'x')");
  EXPECT_TRUE(*src_->ChangesWaiting(schema_, committed_));
  ASSERT_TRUE(Round().ok());
  EXPECT_FALSE(*src_->ChangesWaiting(schema_, committed_));
}

TEST(SqliteCursorTest, HoldsTheSequenceNumberAsDecimalText) {
  EXPECT_EQ(SqliteSource::CursorAt(0), "0");
  EXPECT_EQ(SqliteSource::CursorAt(1234567890123), "1234567890123");
  EXPECT_EQ(*SqliteSource::SequenceOf("42"), 42);
  for (const char* bad : {"", "-1", "4 2", "42x", "0x10", "99999999999999999999"}) {
    EXPECT_FALSE(SqliteSource::SequenceOf(bad).ok()) << bad;
  }
}

TEST_F(ChainTest, AFileWithoutTheCheckpointIsAnotherSource) {
  const Status s = src_->CheckChain("account", "another-consumer", committed_);
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "source_replaced");
}

TEST_F(ChainTest, TriggersDroppedAndRestoredAreATrackingGap) {
  Exec("DROP TRIGGER _linkwatch_account_delete");
  Status s = src_->CheckChain("account", kConsumer, committed_);
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "tracking_gap");
  // Until tracking is back the table cannot be described (the unsyncable
  // state, with the command).
  EXPECT_THAT(src_->Describe("account").message(), HasSubstr("has no change tracking"));
  Exec("DELETE FROM account WHERE accountid = 'a2'");  // not logged
  // enable-change-tracking re-installs the missing trigger although the
  // table is in _linkwatch_tracked, with a new generation.
  auto report = InstallChangeTracking(path_, {"account"});
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_EQ(report->installed, std::vector<std::string>{"account"});
  s = src_->CheckChain("account", kConsumer, committed_);
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "tracking_gap");
  // Reading changes with the old tracking is refused too.
  EXPECT_EQ(src_->ReadChanges(schema_, committed_, 10, [](const RowView&) { return Status::Ok(); })
                .status()
                .reason(),
            "tracking_gap");
  // The resync (a new initial read and checkpoint) ends it.
  std::map<std::string, Seen> all;
  auto cursor = src_->ReadAll(schema_, Collect(schema_, all));
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(all.count("a2"), 0u);
  ASSERT_TRUE(src_->Checkpoint(schema_, kConsumer, *cursor).ok());
  committed_ = *cursor;
  EXPECT_TRUE(src_->CheckChain("account", kConsumer, committed_).ok());
  // Deletes are logged again.
  Exec("DELETE FROM account WHERE accountid = 'a1'");
  std::map<std::string, Seen> seen;
  ASSERT_TRUE(src_->ReadChanges(schema_, committed_, 10, Collect(schema_, seen)).ok());
  EXPECT_TRUE(seen["a1"].deleted);
}

TEST_F(ChainTest, TrackingInstalledAgainBetweenCheckAndReadIsCaughtByTheRead) {
  ASSERT_TRUE(src_->CheckChain("account", kConsumer, committed_).ok());
  Exec("DROP TRIGGER _linkwatch_account_update");
  ASSERT_TRUE(EnableChangeTracking(path_, {"account"}).ok());
  auto cursor =
      src_->ReadChanges(schema_, committed_, 10, [](const RowView&) { return Status::Ok(); });
  ASSERT_FALSE(cursor.ok());
  EXPECT_TRUE(cursor.status().is_break());
  EXPECT_EQ(cursor.status().reason(), "tracking_gap");
}

TEST_F(ChainTest, EnablingAgainWithCurrentTriggersKeepsTheGeneration) {
  auto report = InstallChangeTracking(path_, {"account"});
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->installed.empty());
  EXPECT_EQ(report->unchanged, std::vector<std::string>{"account"});
  EXPECT_TRUE(src_->CheckChain("account", kConsumer, committed_).ok());
}

TEST_F(ChainTest, EnablingAgainReplacesAnOutdatedTrigger) {
  // A trigger of the same name that no longer logs deletes (edited by hand,
  // or left by an older linkwatch).
  Exec(
      "DROP TRIGGER _linkwatch_account_delete;"
      "CREATE TRIGGER _linkwatch_account_delete AFTER DELETE ON account BEGIN SELECT 1; END;");
  auto report = InstallChangeTracking(path_, {"account"});
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_EQ(report->installed, std::vector<std::string>{"account"});
  EXPECT_EQ(src_->CheckChain("account", kConsumer, committed_).reason(), "tracking_gap");
  auto cursor = src_->ReadAll(schema_, [](const RowView&) { return Status::Ok(); });
  ASSERT_TRUE(cursor.ok());
  Exec("DELETE FROM account WHERE accountid = 'a2'");
  std::map<std::string, Seen> seen;
  ASSERT_TRUE(src_->ReadChanges(schema_, *cursor, 10, Collect(schema_, seen)).ok());
  EXPECT_TRUE(seen["a2"].deleted);
}

TEST_F(ChainTest, ADroppedTableIsABreak) {
  Exec("DROP TABLE account");
  const Status s = src_->CheckChain("account", kConsumer, committed_);
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "table_recreated");
}

TEST_F(ChainTest, AChangedKeyIsFollowedByTrackingAndIsABreak) {
  // Rebuilt with the name as its key.
  Exec(
      "CREATE TABLE account2(accountid TEXT, name TEXT PRIMARY KEY, revenue REAL, "
      "employees INTEGER, active BOOLEAN, createdon DATETIME, price DECIMAL(10,2), photo BLOB);"
      "INSERT INTO account2 SELECT * FROM account; DROP TABLE account;"
      "ALTER TABLE account2 RENAME TO account;");
  ASSERT_TRUE(EnableChangeTracking(path_, {"account"}).ok());
  auto key = state::Db::Open(path_);
  ASSERT_TRUE(key.ok());
  auto st = (*key)->Prepare("SELECT key FROM _linkwatch_tracked WHERE tbl = 'account'");
  ASSERT_TRUE(st.ok() && st->Step());
  EXPECT_EQ(st->Text(0), "name");
  const Status s = src_->CheckChain("account", kConsumer, committed_);
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "key_changed");
  // The triggers log the new key (read after the resync's initial read).
  auto schema = src_->Describe("account");
  ASSERT_TRUE(schema.ok()) << schema.message();
  EXPECT_EQ(schema->columns[schema->key].name, "name");
  auto cursor = src_->ReadAll(*schema, [](const RowView&) { return Status::Ok(); });
  ASSERT_TRUE(cursor.ok());
  committed_ = *cursor;
  Exec("UPDATE account SET revenue = 1 WHERE accountid = 'a1'");
  std::vector<std::string> keys;
  ASSERT_TRUE(src_->ReadChanges(*schema, committed_, 10,
                                [&](const RowView& r) {
                                  keys.emplace_back(r.key.text);
                                  return Status::Ok();
                                })
                  .ok());
  EXPECT_EQ(keys, std::vector<std::string>{"Contoso"});
}

TEST_F(ChainTest, AKeyChangedWithoutEnablingAgainCannotBeDescribed) {
  Exec(
      "CREATE TABLE account2(accountid TEXT, name TEXT PRIMARY KEY);"
      "INSERT INTO account2 SELECT accountid, name FROM account; DROP TABLE account;"
      "ALTER TABLE account2 RENAME TO account;"
      "UPDATE _linkwatch_tracked SET key = 'accountid';");
  // Triggers that name the old key, put back by hand.
  Exec(
      "CREATE TRIGGER _linkwatch_account_insert AFTER INSERT ON account BEGIN SELECT 1; END;"
      "CREATE TRIGGER _linkwatch_account_update AFTER UPDATE ON account BEGIN SELECT 1; END;"
      "CREATE TRIGGER _linkwatch_account_delete AFTER DELETE ON account BEGIN SELECT 1; END;");
  EXPECT_THAT(src_->Describe("account").message(),
              HasSubstr("has the primary key name but its change tracking follows accountid"));
}

TEST_F(ChainTest, AReplacedFileIsReopenedAndABreak) {
  // A rollback-journal source: with WAL, a -wal file left by a connection to
  // the old file is read by SQLite as the new file's (docs/sync.md).
  src_.reset();
  Exec("PRAGMA journal_mode=DELETE");
  src_ = Open();
  const auto other = dir_ / "other.db";
  {
    auto db = state::Db::Open(other.string());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE account(accountid TEXT PRIMARY KEY, name TEXT);"
                           "INSERT INTO account VALUES ('z1', 'Other')")
                    .ok());
  }
  ASSERT_TRUE(EnableChangeTracking(other.string(), {"account"}).ok());
  EXPECT_TRUE(src_->CheckFile().ok());
  db_.reset();  // the application's connection: replaced files are closed by their users
  std::filesystem::rename(other, path_);
  Status s = src_->CheckFile();
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "source_replaced");
  // The new file is read from now on.
  auto schema = src_->Describe("account");
  ASSERT_TRUE(schema.ok()) << schema.message();
  std::map<std::string, Seen> all;
  ASSERT_TRUE(src_->ReadAll(*schema, Collect(*schema, all)).ok());
  EXPECT_EQ(all.size(), 1u);
  EXPECT_EQ(all.count("z1"), 1u);
  EXPECT_TRUE(src_->CheckFile().ok());
}

TEST_F(ChainTest, AWalFileLeftByTheReplacedFileIsRefusedUntilRemoved) {
  // The fixture's file is in WAL mode, and its writer (the application)
  // still has it open when it is replaced, so its -wal stays at the path.
  Exec("INSERT INTO account(accountid, name) VALUES ('a3', 'in the WAL')");
  ASSERT_TRUE(src_->CheckFile().ok());
  ASSERT_TRUE(std::filesystem::exists(path_ + "-wal"));
  const auto other = dir_ / "other.db";
  {
    auto db = state::Db::Open(other.string(), state::Db::Mode::kReadWriteCreate,
                              state::Db::Journal::kAsIs);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE account(accountid TEXT PRIMARY KEY, name TEXT);"
                           "INSERT INTO account VALUES ('z1', 'Other')")
                    .ok());
  }
  ASSERT_TRUE(EnableChangeTracking(other.string(), {"account"}).ok());
  std::filesystem::rename(other, path_);
  for (int round = 0; round < 2; ++round) {
    const Status s = src_->CheckFile();
    EXPECT_FALSE(s.ok());
    EXPECT_FALSE(s.is_break());
    EXPECT_EQ(s.reason(), "source_replaced");
    EXPECT_THAT(s.message(), HasSubstr("is still the old file's"));
    EXPECT_EQ(src_->Head().status().reason(), "source_missing");  // not open meanwhile
  }
  // The application closed the old file; the operator removed its leftovers.
  db_.reset();
  std::filesystem::remove(path_ + "-wal");
  std::filesystem::remove(path_ + "-shm");
  const Status s = src_->CheckFile();
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "source_replaced");
  auto schema = src_->Describe("account");
  ASSERT_TRUE(schema.ok()) << schema.message();
  std::map<std::string, Seen> all;
  ASSERT_TRUE(src_->ReadAll(*schema, Collect(*schema, all)).ok());
  EXPECT_EQ(all.size(), 1u);
  EXPECT_EQ(all["z1"].name, "Other");
}

TEST_F(ChainTest, ADeletedFileIsAnErrorUntilItIsBackThenABreak) {
  // In WAL mode, with its -wal beside it: the file back is the same file, so
  // its -wal is its own.
  Exec("INSERT INTO account(accountid, name) VALUES ('a3', 'in the WAL')");
  ASSERT_TRUE(src_->CheckFile().ok());
  ASSERT_TRUE(std::filesystem::exists(path_ + "-wal"));
  const auto away = dir_ / "away.db";
  std::filesystem::rename(path_, away);
  for (int round = 0; round < 2; ++round) {
    const Status s = src_->CheckFile();
    EXPECT_FALSE(s.ok());
    EXPECT_FALSE(s.is_break());
    EXPECT_EQ(s.reason(), "source_missing");
    EXPECT_THAT(s.message(), HasSubstr("is gone"));
  }
  // Back, even as the very same file: whatever happened meanwhile, it is
  // synced again.
  std::filesystem::rename(away, path_);
  const Status s = src_->CheckFile();
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "source_replaced");
  EXPECT_TRUE(src_->CheckFile().ok());
  std::map<std::string, Seen> all;
  ASSERT_TRUE(src_->ReadAll(schema_, Collect(schema_, all)).ok());
  EXPECT_EQ(all["a3"].name, "in the WAL");
}

TEST_F(SqliteSourceTest, AMissingFileIsSourceMissing) {
  auto src = SqliteSource::Open((dir_ / "nosuch.db").string());
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.status().reason(), "source_missing");
  EXPECT_THAT(src.message(), HasSubstr("does not exist"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "nosuch.db"));
}

// Issue 8, point 11c: the source's journal mode is the application's.
TEST(SqliteSourceJournal, LeftAloneUnlessAskedFor) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("lw_src_journal_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "app.db").string();
  auto journal = [&]() {
    auto db = state::Db::Open(path, state::Db::Mode::kReadOnly);
    EXPECT_TRUE(db.ok());
    auto st = (*db)->Prepare("PRAGMA journal_mode");
    EXPECT_TRUE(st.ok() && st->Step());
    return st->Text(0);
  };
  {
    auto db = state::Db::Open(path, state::Db::Mode::kReadWriteCreate, state::Db::Journal::kAsIs);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)").ok());
  }
  ASSERT_EQ(journal(), "delete");
  ASSERT_TRUE(EnableChangeTracking(path, {"t"}).ok());
  EXPECT_EQ(journal(), "delete");
  {
    auto src = SqliteSource::Open(path);
    ASSERT_TRUE(src.ok());
    auto schema = (*src)->Describe("t");
    ASSERT_TRUE(schema.ok());
    auto cursor = (*src)->ReadAll(*schema, [](const RowView&) { return Status::Ok(); });
    ASSERT_TRUE(cursor.ok());
    ASSERT_TRUE((*src)->Checkpoint(*schema, "pe", *cursor).ok());
  }
  EXPECT_EQ(journal(), "delete");
  auto report = InstallChangeTracking(path, {"t"}, "WAL");
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_EQ(report->journal_mode_before, "delete");
  EXPECT_EQ(report->journal_mode, "wal");
  EXPECT_EQ(journal(), "wal");
  EXPECT_THAT(InstallChangeTracking(path, {"t"}, "off").message(),
              HasSubstr("is not one of wal, delete, truncate, persist"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace linkwatch::sync
