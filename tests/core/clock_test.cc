#include "agent/core/clock.h"

#include <gtest/gtest.h>

#include <thread>

namespace linkwatch {
namespace {

using std::chrono::seconds;

TEST(ManualClockTest, AdvanceWakesAWaiterWhoseDeadlineCame) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool woke = false;
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    clock.WaitUntil(lock, cv, clock.Now() + seconds(10), [] { return false; });
    woke = true;
  });
  ASSERT_TRUE(clock.AwaitWaiters(1));
  clock.Advance(seconds(9));  // not yet due: the waiter stays parked
  EXPECT_EQ(clock.NextDeadline(), TimePoint{} + seconds(10));
  {
    std::lock_guard lock(mu);
    EXPECT_FALSE(woke);
  }
  clock.Advance(seconds(1));
  waiter.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(clock.Waiters(), 0u);
}

TEST(ManualClockTest, TheWaitersOwnNotificationStillWakesIt) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool result = true;
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    result = clock.WaitUntil(lock, cv, clock.Now() + seconds(3600), [&] { return stop; });
  });
  ASSERT_TRUE(clock.AwaitWaiters(1));
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(result);
  EXPECT_EQ(clock.Now(), TimePoint{});
}

TEST(ManualClockTest, AwaitDeadlineWaitsForAWaiterOfThatDeadline) {
  ManualClock clock;
  std::thread sleeper([&] { clock.SleepFor(seconds(7)); });
  ASSERT_TRUE(clock.AwaitDeadline(TimePoint{} + seconds(7)));
  EXPECT_TRUE(clock.AwaitDeadline(TimePoint{} + seconds(5), TimePoint{} + seconds(8)));
  EXPECT_FALSE(clock.AwaitDeadline(TimePoint{} + seconds(8), TimePoint::max(),
                                   std::chrono::milliseconds(1)));
  clock.Advance(seconds(7));
  sleeper.join();
}

// A thread woken through its own condition variable (new work) still
// counts as parked until it runs; a wait begun after the hand-over shows the
// work done.
TEST(ManualClockTest, AWaitBegunAfterTheHandOverShowsTheWorkDone) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  int work = 0, done = 0;
  bool stop = false;
  std::thread worker([&] {
    std::unique_lock lock(mu);
    while (!stop) {
      if (work > 0) {
        --work;
        ++done;
        continue;
      }
      clock.WaitUntil(lock, cv, TimePoint::max(), [&] { return stop || work > 0; });
    }
  });
  ASSERT_TRUE(clock.AwaitWaiters(1));
  const uint64_t before = clock.WaitsBegun();
  EXPECT_GE(before, 1u);
  EXPECT_FALSE(clock.AwaitWaitSince(before, TimePoint::min(), TimePoint::max(),
                                    std::chrono::milliseconds(1)))
      << "the worker's wait began before";
  for (int i = 1; i <= 50; ++i) {
    const uint64_t mark = clock.WaitsBegun();
    {
      std::lock_guard lock(mu);
      ++work;
    }
    cv.notify_all();
    ASSERT_TRUE(clock.AwaitWaitSince(mark, TimePoint::max(), TimePoint::max()));
    std::lock_guard lock(mu);
    ASSERT_EQ(done, i);
  }
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  worker.join();
}

TEST(SystemClockTest, WaitingUntilTheEndOfTimeWaitsForTheNotification) {
  SystemClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    clock.WaitUntil(lock, cv, TimePoint::max(), [&] { return stop; });
  });
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  waiter.join();  // hangs (or spins) if TimePoint::max() overflowed the wait
}

TEST(ManualClockTest, SleepUntilReturnsWhenTheTimeIsSetPastIt) {
  ManualClock clock;
  std::thread sleeper([&] { clock.SleepFor(seconds(5)); });
  ASSERT_TRUE(clock.AwaitWaiters(1));
  clock.Set(TimePoint{} + seconds(60));
  sleeper.join();
  EXPECT_EQ(clock.Waiters(), 0u);
}

TEST(ManualClockTest, ManyAdvancesRacingManyWaitersLoseNoWakeup) {
  ManualClock clock;
  constexpr int kThreads = 4, kRounds = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::mutex mu;
      std::condition_variable cv;
      for (int i = 1; i <= kRounds; ++i) {
        std::unique_lock lock(mu);
        clock.WaitUntil(lock, cv, TimePoint{} + seconds(i), [] { return false; });
      }
    });
  }
  for (int i = 1; i <= kRounds; ++i) {
    ASSERT_TRUE(clock.AwaitWaiters(kThreads));  // every thread parked for deadline i
    clock.Advance(seconds(1));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.Waiters(), 0u);
}

TEST(SystemClockTest, WaitUntilAPastDeadlineReturnsAtOnce) {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  auto& clock = SystemClock::Instance();
  EXPECT_TRUE(clock.WaitUntil(lock, cv, clock.Now() - seconds(1)));
  EXPECT_FALSE(
      clock.WaitUntil(lock, cv, clock.Now() + std::chrono::milliseconds(20), [] { return false; }));
}

}  // namespace
}  // namespace linkwatch
