// Db's file hooks: a connection opened with DbFiles::vfs does its I/O through
// that VFS, and a commit of linkwatch's own (WAL) files is durable when it
// returns: a power cut right after it keeps it (tests/core/crash_vfs.h).
#include "agent/state/db.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/core/crash_vfs.h"

namespace linkwatch::state {
namespace {

namespace fs = std::filesystem;

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lw_db_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(DbTest, ACommitSurvivesAPowerCutRightAfterIt) {
  faults::CrashVfs vfs(/*make_default=*/false);
  const std::string path = (dir_ / "state.db").string();
  DbFiles files;
  files.vfs = faults::CrashVfs::kName;
  {
    auto db = Db::Open(path, Db::Mode::kReadWriteCreate, Db::Journal::kWal, files);
    ASSERT_TRUE(db.ok()) << db.message();
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('kept');").ok());
    EXPECT_GT(vfs.syncs(), 0) << "the connection's I/O goes through the named VFS";
    vfs.Cut();
  }
  ASSERT_TRUE(vfs.Restore().ok());
  auto db = Db::Open(path, Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok()) << db.message();
  auto st = (*db)->Prepare("SELECT v FROM t");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(st->Step());
  EXPECT_EQ(st->Text(0), "kept");
}

}  // namespace
}  // namespace linkwatch::state
