// Backoff: the one exponential backoff with full jitter, for everything that
// retries a remote call (the outbox's deliveries, the Dataverse Web API
// client). The wait before retry number n (n >= 1) is uniform in
// [0, min(cap, base * factor^(n-1))] (AWS's "full jitter"), or exactly that
// bound with jitter off (tests that check the schedule).
//
// A value type; Delay takes the caller's random engine, so it is as
// thread-safe as that engine.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>

#include "agent/core/clock.h"

namespace linkwatch {

struct Backoff {
  Millis base{500};
  double factor = 2;
  Millis cap{60000};
  bool jitter = true;

  Millis Delay(int retry, std::mt19937_64& rng) const {
    const double bound =
        std::min(static_cast<double>(cap.count()),
                 static_cast<double>(base.count()) * std::pow(factor, std::max(0, retry - 1)));
    if (!jitter) return Millis(static_cast<long long>(bound));
    std::uniform_real_distribution<double> dist(0, bound);
    return Millis(static_cast<long long>(dist(rng)));
  }
};

}  // namespace linkwatch
