// Helpers shared by the notifiers tests: temporary directories, alerts,
// and a bounded real-time wait for worker threads (never for timers: timers
// run on a ManualClock).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "agent/core/time_format.h"
#include "rules/alert.h"

namespace linkwatch::notifiers::testutil {

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("lw_notifiers_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" +
             info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Polls `done` until it holds or `timeout` passes (worker threads only).
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline TimePoint T0() { return FromEpochSeconds(*ParseDateTime("2026-01-01T00:00:00Z")); }

inline Alert MakeAlert(LabelSet labels, AlertState state = AlertState::kFiring,
                       double starts_at = 0, double ends_at = 0) {
  Alert a;
  a.labels = std::move(labels);
  a.state = state;
  a.starts_at = starts_at;
  a.active_at = starts_at;
  a.ends_at = ends_at;
  a.fingerprint = LabelFingerprint(a.labels);
  return a;
}

}  // namespace linkwatch::notifiers::testutil
