// The histogram buckets linkwatch's latency metrics share (seconds, from
// 5 ms to 5 min): linkwatch_notification_latency_seconds and
// linkwatch_sync_lag_seconds. One home, so the two stay comparable.
// Header-only, immutable, thread-safe.
#pragma once

#include <vector>

namespace linkwatch {

inline const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                            1,     2.5,  5,     10,   30,  60,   300};
  return kBuckets;
}

}  // namespace linkwatch
