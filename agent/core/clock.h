// Clock: the one way code reads the time and waits for it. Everything that
// waits or reads the time takes a Clock& and waits through it, so that tests
// drive time by hand: ManualClock::Advance wakes every thread waiting on it
// whose deadline has come (Envoy's simulated time), and no test sleeps for a
// timer.
//
// A waiter waits on its own mutex and condition variable (so that its other
// events, a stop request or new work, wake it as before):
//
//   std::unique_lock lock(mu_);
//   clock_.WaitUntil(lock, cv_, next_due, [&] { return stopping_ || !queue_.empty(); });
//
// SystemClock and ManualClock are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>

namespace linkwatch {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;

  // Blocks (releasing `lock`, which must hold the mutex `cv` is used with)
  // until `deadline` by this clock or until `cv` is notified; may return
  // early (spuriously). Returns whether the deadline has passed.
  virtual bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         TimePoint deadline) const = 0;

  // Waits until `stop()` holds (checked under `lock`) or the deadline passes;
  // returns stop(), like std::condition_variable::wait_until.
  template <class Predicate>
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline, Predicate stop) const {
    while (!stop()) {
      if (Now() >= deadline) return stop();
      WaitUntil(lock, cv, deadline);
    }
    return true;
  }
  template <class Predicate>
  bool WaitFor(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, Duration d,
               Predicate stop) const {
    return WaitUntil(lock, cv, Now() + d, std::move(stop));
  }

  // Blocks until `deadline` by this clock (nothing else wakes it).
  void SleepUntil(TimePoint deadline) const;
  void SleepFor(Duration d) const { SleepUntil(Now() + d); }
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  // Waits on the steady clock for the time left, so a wall-clock jump
  // neither stretches nor cuts a wait.
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) const override;
  using Clock::WaitUntil;
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// Time that moves only when a test says so. Waiters block until Advance or
// Set moves the time to their deadline (or their condition variable is
// notified); AwaitWaiters lets a test wait, without sleeping, until the
// threads under test are parked on the clock before it advances it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(Duration(now_.load())); }
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) const override;
  using Clock::WaitUntil;

  // Moves the time and wakes every waiter whose deadline has come.
  void Set(TimePoint t);
  void Advance(Duration d);

  // Threads parked in WaitUntil/SleepUntil now: waiting for a deadline
  // that has not come and not yet woken.
  size_t Waiters() const;
  // Blocks until at least `n` threads wait on the clock; returns false when
  // `real_timeout` (wall time, a guard against a test that would hang)
  // passes first.
  bool AwaitWaiters(size_t n,
                    std::chrono::milliseconds real_timeout = std::chrono::seconds(60)) const;
  // Blocks until some thread waits on the clock for a deadline in [from, to]
  // (a retry or timer the test expects: the thread has done its round and
  // parked); false when `real_timeout` passes first.
  bool AwaitDeadline(TimePoint from, TimePoint to,
                     std::chrono::milliseconds real_timeout = std::chrono::seconds(60)) const;
  bool AwaitDeadline(TimePoint deadline) const { return AwaitDeadline(deadline, deadline); }
  // Waits begun on the clock so far. A thread handed work through its own
  // condition variable (an Enqueue, not the time) still counts as parked
  // until it runs, so a parked thread alone proves nothing; a test reads
  // WaitsBegun(), looks at what the threads did, and when that is not yet
  // what it waits for, awaits a wait begun after (AwaitWaitSince): some
  // thread finished a step meanwhile.
  uint64_t WaitsBegun() const;
  // Blocks until a thread parks for a deadline in [from, to] in a wait begun
  // after the first `since` waits; false when `real_timeout` passes first.
  bool AwaitWaitSince(uint64_t since, TimePoint from = TimePoint::min(),
                      TimePoint to = TimePoint::max(),
                      std::chrono::milliseconds real_timeout = std::chrono::seconds(60)) const;
  // The earliest deadline any waiter waits for (TimePoint::max() when none).
  TimePoint NextDeadline() const;

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mu;
    TimePoint deadline;
    uint64_t number;     // this wait's place in WaitsBegun
    bool woken = false;  // notified by Advance/Set; no longer counted as parked
  };
  void WakeDue();
  size_t ParkedLocked() const;

  std::atomic<Duration::rep> now_;
  mutable std::mutex
      mu_;  // guards waiters_ and notifying_; never held while taking a waiter's mutex
  mutable std::condition_variable changed_;  // waiters_ or notifying_ changed
  mutable std::list<Waiter> waiters_;
  mutable int notifying_ = 0;  // Advance calls between copying waiters_ and notifying them
  mutable uint64_t waits_begun_ = 0;
};

// Seconds since the Unix epoch as a double (fractional), the unit the rule
// engine and the metrics use for datetimes.
inline double ToEpochSeconds(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}
inline TimePoint FromEpochSeconds(double s) {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)));
}

}  // namespace linkwatch
