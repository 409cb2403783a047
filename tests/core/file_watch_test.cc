// FileWatch: a write, a replacement or a deletion of the watched file calls
// back (once per burst of writes); other files of the folder do not; a
// folder deleted ends the watch. Waits are on a condition variable, with a
// wall-time guard that fails the test instead of hanging.
#include "agent/core/file_watch.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "tests/fakes/test_dir.h"

namespace linkwatch {
namespace {

namespace fs = std::filesystem;

class FileWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fakes::FreshTestDir("lw_file_watch");
    path_ = (dir_ / "state.db").string();
    Write(path_, "x");
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::app) << text;
  }
  std::unique_ptr<FileWatch> Start() {
    auto w = FileWatch::Start(path_, [this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_;
      cv_.notify_all();
    });
    EXPECT_TRUE(w.ok()) << w.message();
    return w.ok() ? std::move(w).value() : nullptr;
  }
  // Waits until at least `n` calls came; false after 30 s of wall time.
  bool AwaitCalls(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return calls_ >= n; });
  }
  int Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

  fs::path dir_;
  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
};

TEST(FileWatchConcernsTest, TheFileAndItsJournalsButNotTheSharedMemoryOrOtherFiles) {
  EXPECT_TRUE(FileWatch::Concerns("state.db", "state.db"));
  EXPECT_TRUE(FileWatch::Concerns("state.db", "state.db-wal"));
  EXPECT_TRUE(FileWatch::Concerns("state.db", "state.db-journal"));
  EXPECT_FALSE(FileWatch::Concerns("state.db", "state.db-shm"));
  EXPECT_FALSE(FileWatch::Concerns("state.db", "state.db2"));
  EXPECT_FALSE(FileWatch::Concerns("state.db", "other.db"));
  EXPECT_FALSE(FileWatch::Concerns("state.db", "state"));
}

TEST_F(FileWatchTest, AWriteCallsBackOncePerBurst) {
  auto w = Start();
  ASSERT_NE(w, nullptr);
  for (int i = 0; i < 200; ++i) Write(path_ + "-wal", "page");
  ASSERT_TRUE(AwaitCalls(1));
  // 200 writes in a row are one burst, or a few on a busy machine: never
  // one call per write.
  EXPECT_LT(Calls(), 50);
  EXPECT_TRUE(w->alive());
}

TEST_F(FileWatchTest, AReplacedOrDeletedFileCallsBack) {
  auto w = Start();
  ASSERT_NE(w, nullptr);
  Write((dir_ / "new.db").string(), "y");
  fs::rename(dir_ / "new.db", path_);  // mv new.db state.db
  ASSERT_TRUE(AwaitCalls(1));
  const int after_replace = Calls();
  fs::remove(path_);
  ASSERT_TRUE(AwaitCalls(after_replace + 1));
}

TEST_F(FileWatchTest, ADeletedFolderEndsTheWatchWithALastCall) {
  auto w = Start();
  ASSERT_NE(w, nullptr);
  fs::remove_all(dir_);
  ASSERT_TRUE(AwaitCalls(1));
  // The call comes with or after the end of the watch: wait for the flag
  // through the same calls (the last one is made once alive() is false).
  std::unique_lock<std::mutex> lock(mu_);
  ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return !w->alive(); }));
}

TEST_F(FileWatchTest, AMissingFolderIsAnError) {
  auto w = FileWatch::Start((dir_ / "no" / "such.db").string(), [] {});
  EXPECT_FALSE(w.ok());
}

}  // namespace
}  // namespace linkwatch
