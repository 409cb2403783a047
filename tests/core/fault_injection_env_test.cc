// The fault-injecting Env itself: a power cut drops exactly what was not
// made durable, and injected faults fail (or cut short) the operation they
// name. The power-cut tests of the lake rely on this model.
#include "tests/core/fault_injection_env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/core/files.h"

namespace linkwatch::faults {
namespace {

namespace fs = std::filesystem;

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("lw_fault_env_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Read(const std::string& name) {
    auto text = Env::Default().ReadFile(dir_ + "/" + name);
    return text.ok() ? *text : "<missing>";
  }
  void Write(const std::string& name, const std::string& content, bool sync) {
    auto f = env_.OpenWritable(dir_ + "/" + name, Env::WriteMode::kAppend);
    ASSERT_TRUE(f.ok()) << f.message();
    ASSERT_TRUE((*f)->Append(content).ok());
    if (sync) {
      ASSERT_TRUE((*f)->Sync().ok());
    }
  }

  std::string dir_;
  FaultInjectionEnv env_;
};

TEST_F(FaultInjectionEnvTest, APowerCutDropsWhatWasAppendedSinceTheLastSync) {
  Write("f", "durable", true);
  ASSERT_TRUE(env_.SyncDir(dir_).ok());
  Write("f", "+lost", false);
  EXPECT_EQ(Read("f"), "durable+lost");
  ASSERT_TRUE(env_.PowerCut().ok());
  EXPECT_EQ(Read("f"), "durable");
}

TEST_F(FaultInjectionEnvTest, AFileWhoseFolderWasNeverSyncedVanishes) {
  Write("f", "synced data", true);
  ASSERT_TRUE(env_.PowerCut().ok());
  EXPECT_EQ(Read("f"), "<missing>");
}

TEST_F(FaultInjectionEnvTest, ARenameWithoutAFolderSyncIsUndone) {
  std::ofstream(dir_ + "/f") << "old";  // durable before the test
  Write("tmp", "new", true);
  ASSERT_TRUE(env_.Rename(dir_ + "/tmp", dir_ + "/f").ok());
  EXPECT_EQ(Read("f"), "new");
  ASSERT_TRUE(env_.PowerCut().ok());
  EXPECT_EQ(Read("f"), "old");
  EXPECT_EQ(Read("tmp"), "<missing>") << "its creation was not durable either";
}

TEST_F(FaultInjectionEnvTest, ARemoveWithoutAFolderSyncIsUndone) {
  std::ofstream(dir_ + "/f") << "kept";
  ASSERT_TRUE(env_.RemoveFile(dir_ + "/f").ok());
  ASSERT_TRUE(env_.PowerCut().ok());
  EXPECT_EQ(Read("f"), "kept");
}

TEST_F(FaultInjectionEnvTest, AFolderCreatedWithoutSyncingItsParentVanishesWithItsFiles) {
  ASSERT_TRUE(env_.CreateDirs(dir_ + "/a/b").ok());
  auto f = env_.OpenWritable(dir_ + "/a/b/f", Env::WriteMode::kCreateTruncate);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("x").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  f->reset();
  ASSERT_TRUE(env_.SyncDir(dir_ + "/a/b").ok());
  ASSERT_TRUE(env_.PowerCut().ok());
  EXPECT_FALSE(fs::exists(dir_ + "/a"));
}

TEST_F(FaultInjectionEnvTest, WriteFileAtomicSurvivesThePowerCut) {
  std::ofstream(dir_ + "/f") << "old";
  ASSERT_TRUE(WriteFileAtomic(env_, dir_ + "/f", "new").ok());
  ASSERT_TRUE(CreateDirsDurably(env_, dir_ + "/x/y").ok());
  ASSERT_TRUE(WriteFileAtomic(env_, dir_ + "/x/y/g", "g").ok());
  ASSERT_TRUE(env_.PowerCut().ok());
  EXPECT_EQ(Read("f"), "new");
  EXPECT_EQ(Read("x/y/g"), "g");
  EXPECT_EQ(env_.PendingDirOps(), 0u);
}

TEST_F(FaultInjectionEnvTest, AnInjectedWriteFaultFailsOrCutsTheWriteShort) {
  env_.FailNext(FaultInjectionEnv::Op::kWrite, "/f");
  auto f = env_.OpenWritable(dir_ + "/f", Env::WriteMode::kAppend);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE((*f)->Append("nothing").ok());
  env_.FailNext(FaultInjectionEnv::Op::kWrite, "/f", 3);
  EXPECT_FALSE((*f)->AppendPieces({"abc", "def"}).ok());
  EXPECT_TRUE((*f)->Append("!").ok()) << "a fault fires once";
  EXPECT_EQ(Read("f"), "abc!");
  EXPECT_EQ(env_.failures(), 2);
  env_.FailNext(FaultInjectionEnv::Op::kSync, "/f");
  EXPECT_FALSE((*f)->Sync().ok());
  env_.FailNext(FaultInjectionEnv::Op::kRename, "/g");
  EXPECT_FALSE(env_.Rename(dir_ + "/f", dir_ + "/g").ok());
  EXPECT_EQ(Read("f"), "abc!");
}

}  // namespace
}  // namespace linkwatch::faults
