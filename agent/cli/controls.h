// Controls: how the outside world (signals, the demo's timer, the HTTP
// reload endpoint) asks the running agent to stop or reload. Thread-safe;
// the agent's main loop waits on it instead of sleeping, so a request takes
// effect at once.
//
// A reload is done by the main loop (it owns the rule engine and router).
// SIGHUP only asks for one (RequestReload); POST /-/reload waits for its
// outcome (ReloadAndWait), which the loop reports with ReloadDone. Requests
// that arrive before the loop takes them share one reload and its outcome.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "agent/core/clock.h"

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
    RequestReloadLocked();
  }
  // Asks for a reload and waits for the loop's outcome: "" on success, the
  // error otherwise; nullopt when no outcome came within `timeout` or the
  // agent is stopping.
  std::optional<std::string> ReloadAndWait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t mine = RequestReloadLocked();
    if (!SystemClock::Instance().WaitFor(lock, cv_, timeout,
                                         [&] { return stop_ || reload_done_ >= mine; }) ||
        reload_done_ < mine) {
      return std::nullopt;
    }
    return reload_error_;
  }
  // The loop finished the reload it took with TakeReload.
  void ReloadDone(std::string error) {
    std::lock_guard<std::mutex> lock(mu_);
    reload_done_ = reload_taken_;
    reload_error_ = std::move(error);
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
    if (r) reload_taken_ = reload_requested_;
    return r;
  }
  // Waits until `deadline` by `clock` or until any request.
  void WaitUntil(const Clock& clock, TimePoint deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    clock.WaitUntil(lock, cv_, deadline, [this] { return stop_ || reload_ || woken_; });
    woken_ = false;
  }
  // Waits up to `d` (system time) or until any request.
  void WaitFor(Duration d) {
    const Clock& clock = SystemClock::Instance();
    WaitUntil(clock, clock.Now() + d);
  }

 private:
  uint64_t RequestReloadLocked() {
    reload_ = true;
    cv_.notify_all();
    return ++reload_requested_;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool reload_ = false;
  // Reload requests are numbered; the loop takes all up to reload_taken_ and
  // reports them done together.
  uint64_t reload_requested_ = 0;
  uint64_t reload_taken_ = 0;
  uint64_t reload_done_ = 0;
  std::string reload_error_;
  bool woken_ = false;
};

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call it before
// starting any other thread, which inherit the mask) and starts a thread that
// turns them into RequestStop (INT, TERM) and RequestReload (HUP) on
// `controls`, which must outlive the process's main work.
void HandleSignals(Controls& controls);

}  // namespace linkwatch
