// Controls: how the outside world (signals, the demo's timer, the HTTP
// reload endpoint) asks the running agent to stop or reload. Thread-safe;
// the agent's main loop waits on it instead of sleeping, so a request takes
// effect at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace linkwatch {

class Controls {
 public:
  void RequestStop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  void RequestReload() {
    std::lock_guard<std::mutex> lock(mu_);
    reload_ = true;
    cv_.notify_all();
  }
  // Wakes the loop without a request (e.g. new work arrived).
  void Wake() {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
    cv_.notify_all();
  }
  bool stop_requested() {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }
  // Returns true once per reload request.
  bool TakeReload() {
    std::lock_guard<std::mutex> lock(mu_);
    bool r = reload_;
    reload_ = false;
    return r;
  }
  // Waits up to `d` or until any request.
  template <typename Rep, typename Period>
  void WaitFor(std::chrono::duration<Rep, Period> d) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, d, [this] { return stop_ || reload_ || woken_; });
    woken_ = false;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool reload_ = false;
  bool woken_ = false;
};

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call it before
// starting any other thread, which inherit the mask) and starts a thread that
// turns them into RequestStop (INT, TERM) and RequestReload (HUP) on
// `controls`, which must outlive the process's main work.
void HandleSignals(Controls& controls);

}  // namespace linkwatch
