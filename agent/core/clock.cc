#include "agent/core/clock.h"

#include <algorithm>
#include <vector>

namespace linkwatch {

void Clock::SleepUntil(TimePoint deadline) const {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  while (!WaitUntil(lock, cv, deadline)) {
  }
}

bool SystemClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                            TimePoint deadline) const {
  auto left = deadline - Now();
  if (left <= Duration::zero()) return true;
  // Capped: wait_for adds the time left to steady_clock::now(), which would
  // overflow for TimePoint::max() ("until notified"); an early return is
  // allowed, the caller waits again.
  cv.wait_for(lock, std::min<Duration>(left, std::chrono::hours(24)));  // the steady clock
  return Now() >= deadline;
}

bool ManualClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                            TimePoint deadline) const {
  std::list<Waiter>::iterator self;
  {
    // Checked and registered under mu_: an Advance either moved the time
    // before this check, or finds this waiter registered and notifies it
    // under the waiter's own mutex, which cv.wait releases atomically.
    std::lock_guard guard(mu_);
    if (Now() >= deadline) return true;
    self = waiters_.insert(waiters_.end(), Waiter{&cv, lock.mutex(), deadline, ++waits_begun_});
    changed_.notify_all();
  }
  cv.wait(lock);
  // Leave the list without holding our own mutex, so that an Advance
  // notifying us (it takes that mutex) can finish; once no Advance is
  // between copying the list and notifying, none holds a pointer to cv.
  lock.unlock();
  {
    std::unique_lock guard(mu_);
    waiters_.erase(self);
    changed_.wait(guard, [&] { return notifying_ == 0; });
    changed_.notify_all();
  }
  lock.lock();
  return Now() >= deadline;
}

void ManualClock::Set(TimePoint t) {
  now_.store(t.time_since_epoch().count());
  WakeDue();
}

void ManualClock::Advance(Duration d) {
  now_.fetch_add(d.count());
  WakeDue();
}

void ManualClock::WakeDue() {
  std::vector<Waiter> due;
  {
    std::lock_guard guard(mu_);
    const TimePoint now = Now();
    for (Waiter& w : waiters_) {
      if (w.deadline <= now && !w.woken) {
        w.woken = true;
        due.push_back(w);
      }
    }
    if (due.empty()) return;
    ++notifying_;
  }
  for (const Waiter& w : due) {
    std::lock_guard waiter_lock(*w.mu);
    w.cv->notify_all();
  }
  std::lock_guard guard(mu_);
  --notifying_;
  changed_.notify_all();
}

size_t ManualClock::ParkedLocked() const {
  size_t n = 0;
  for (const Waiter& w : waiters_) n += !w.woken;
  return n;
}

size_t ManualClock::Waiters() const {
  std::lock_guard guard(mu_);
  return ParkedLocked();
}

bool ManualClock::AwaitWaiters(size_t n, std::chrono::milliseconds real_timeout) const {
  std::unique_lock guard(mu_);
  return changed_.wait_for(guard, real_timeout, [&] { return ParkedLocked() >= n; });
}

bool ManualClock::AwaitDeadline(TimePoint from, TimePoint to,
                                std::chrono::milliseconds real_timeout) const {
  return AwaitWaitSince(0, from, to, real_timeout);
}

uint64_t ManualClock::WaitsBegun() const {
  std::lock_guard guard(mu_);
  return waits_begun_;
}

bool ManualClock::AwaitWaitSince(uint64_t since, TimePoint from, TimePoint to,
                                 std::chrono::milliseconds real_timeout) const {
  std::unique_lock guard(mu_);
  return changed_.wait_for(guard, real_timeout, [&] {
    return std::any_of(waiters_.begin(), waiters_.end(), [&](const Waiter& w) {
      return !w.woken && w.number > since && w.deadline >= from && w.deadline <= to;
    });
  });
}

TimePoint ManualClock::NextDeadline() const {
  std::lock_guard guard(mu_);
  TimePoint next = TimePoint::max();
  for (const Waiter& w : waiters_) {
    if (!w.woken) next = std::min(next, w.deadline);
  }
  return next;
}

}  // namespace linkwatch
