// LogThrottle: at most one log line per period for a condition that repeats
// on every round (a lost state store, a locked one), so that the first
// occurrence is logged at once and the log is never flooded. It measures
// real (steady) time: it only decides what is logged, never what the agent
// does. Not thread-safe: one per thread or guarded by the owner's mutex.
#pragma once

#include <chrono>

namespace linkwatch {

class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::steady_clock::duration every = std::chrono::minutes(1))
      : every_(every) {}

  // True when a line may be written now. `held_back` (optional) receives how
  // many calls were refused since the last line.
  bool Allow(int* held_back = nullptr) {
    const auto now = std::chrono::steady_clock::now();
    if (logged_ && now - last_ < every_) {
      ++held_back_;
      return false;
    }
    if (held_back) *held_back = held_back_;
    held_back_ = 0;
    logged_ = true;
    last_ = now;
    return true;
  }
  // The condition ended: the next occurrence is logged at once.
  void Reset() {
    logged_ = false;
    held_back_ = 0;
  }

 private:
  std::chrono::steady_clock::duration every_;
  std::chrono::steady_clock::time_point last_{};
  bool logged_ = false;
  int held_back_ = 0;
};

}  // namespace linkwatch
