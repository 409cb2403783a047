#include "agent/watch/background_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace linkwatch::watch {
namespace {

using std::chrono::seconds;

// A source whose polls end when the test says, with the result it says.
class GatedSource : public StateSource {
 public:
  const std::string& name() const override { return name_; }
  bool Changed() override { return false; }
  Result<std::shared_ptr<const state::Snapshot>> Poll() override {
    std::unique_lock lock(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !results_.empty() || stopped_; });
    if (results_.empty()) return Status::Error("stopped");
    auto r = results_.front();
    results_.pop_front();
    return r;
  }
  void Stop() override {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  // Lets the poll in progress (or the next) end with `r`.
  void Answer(Result<std::shared_ptr<const state::Snapshot>> r) {
    std::lock_guard lock(mu_);
    results_.push_back(std::move(r));
    cv_.notify_all();
  }
  void AwaitStarted(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return started_ >= n; });
  }
  int started() {
    std::lock_guard lock(mu_);
    return started_;
  }

 private:
  std::string name_ = "remote";
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Result<std::shared_ptr<const state::Snapshot>>> results_;
  int started_ = 0;
  bool stopped_ = false;
};

std::shared_ptr<const state::Snapshot> SnapshotWithProfile(const std::string& name) {
  auto s = std::make_shared<state::Snapshot>();
  state::Row row(state::Table(state::TableId::kProfile).columns.size());
  row[0] = s->Text(name);
  (*s)[state::TableId::kProfile].rows.push_back(row);
  return s;
}

class BackgroundSourceTest : public ::testing::Test {
 protected:
  BackgroundSourceTest() {
    auto inner = std::make_unique<GatedSource>();
    inner_ = inner.get();
    source_ = std::make_unique<BackgroundSource>(std::move(inner), clock_);
    source_->SetPollInterval(seconds(15));
    EXPECT_TRUE(source_->NotifyChanges([this] { ++wakes_; }));
  }

  ManualClock clock_{TimePoint(seconds(1'000'000))};
  GatedSource* inner_ = nullptr;
  std::unique_ptr<BackgroundSource> source_;
  std::atomic<int> wakes_{0};
};

TEST_F(BackgroundSourceTest, PollsOnItsOwnThreadEveryIntervalAndWakesTheWatcher) {
  const TimePoint t0 = clock_.Now();
  inner_->AwaitStarted(1);
  EXPECT_FALSE(source_->Changed());
  inner_->Answer(SnapshotWithProfile("p1"));
  // The poller waits for the next interval, counted from the poll's start.
  ASSERT_TRUE(clock_.AwaitDeadline(t0 + seconds(15)));
  EXPECT_EQ(wakes_.load(), 1);
  EXPECT_TRUE(source_->Changed());
  auto snap = source_->Poll();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((**snap)[state::TableId::kProfile].rows[0][0].text(), "p1");
  EXPECT_FALSE(source_->Changed());
  // Polled again only once the interval has passed; a failure is the result.
  EXPECT_EQ(inner_->started(), 1);
  clock_.Advance(seconds(15));
  inner_->AwaitStarted(2);
  inner_->Answer(Status::Error("GET synapselinkprofiles: HTTP 503"));
  ASSERT_TRUE(clock_.AwaitDeadline(t0 + seconds(30)));
  EXPECT_TRUE(source_->Changed());
  auto failed = source_->Poll();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.message(), "GET synapselinkprofiles: HTTP 503");
}

TEST_F(BackgroundSourceTest, TheFirstPollWaitsForTheFirstResult) {
  std::thread answer([&] {
    inner_->AwaitStarted(1);
    inner_->Answer(SnapshotWithProfile("first"));
  });
  auto snap = source_->Poll();
  answer.join();
  ASSERT_TRUE(snap.ok()) << snap.message();
  EXPECT_EQ((**snap)[state::TableId::kProfile].rows.size(), 1u);
}

TEST_F(BackgroundSourceTest, APollThatHangsMakesTheSourceFailInsteadOfLookingCurrent) {
  inner_->Answer(SnapshotWithProfile("old"));
  ASSERT_TRUE(source_->Poll().ok());
  clock_.Advance(seconds(15));
  inner_->AwaitStarted(2);  // and never answers
  clock_.Advance(seconds(60));
  EXPECT_TRUE(source_->Poll().ok());  // 60 s: within interval + 60 s
  clock_.Advance(seconds(16));
  auto stale = source_->Poll();
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.message(), "no answer for 76 s: the poll in progress neither ended nor failed");
}

TEST_F(BackgroundSourceTest, DestroyingItStopsThePollInProgress) {
  inner_->AwaitStarted(1);
  source_.reset();  // joins: returns only because Stop reached the inner poll
  SUCCEED();
}

}  // namespace
}  // namespace linkwatch::watch
