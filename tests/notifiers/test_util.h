// Helpers shared by the notifiers tests: temporary directories, alerts,
// and a wait for the worker threads under test that looks each time one of
// them parks on the ManualClock (never a sleep; timers run on that clock).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "agent/core/clock.h"
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

// Waits until `done` holds, looking each time a thread parks on `clock`
// (it finished a step: what it did is visible). The count of waits is read
// before each look, so a park after a look that failed is always seen.
// False when no thread parks again within `real_timeout` (wall time, a
// guard against a hanging test, not a wait) while `done` fails.
inline bool Eventually(const ManualClock& clock, const std::function<bool()>& done,
                       std::chrono::milliseconds real_timeout = std::chrono::seconds(30)) {
  uint64_t seen = 0;
  while (clock.AwaitWaitSince(seen, TimePoint::min(), TimePoint::max(), real_timeout)) {
    seen = clock.WaitsBegun();
    if (done()) return true;
  }
  return done();
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
