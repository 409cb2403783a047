// Clock: the one way code reads the time. Everything that waits or reads the
// time takes a Clock& so tests can drive time by hand (ManualClock) and never
// sleep for a timer. SystemClock and ManualClock are thread-safe.
#pragma once

#include <atomic>
#include <chrono>

namespace linkwatch {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(Duration(now_.load())); }
  void Set(TimePoint t) { now_.store(t.time_since_epoch().count()); }
  void Advance(Duration d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<Duration::rep> now_;
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
