// InvalidValueLog: warns once about each state value that the snapshot read
// turned into null (state::InvalidValue), instead of at every poll, and
// counts every such value read in linkwatch_watch_invalid_values_total.
//
// Memory is bounded: it remembers at most `capacity` values over all
// sources. A value is forgotten as soon as a poll of its source no longer
// reads it (the row changed or disappeared), so a value that comes back is
// warned about again. Values beyond the capacity are counted but not
// warned about individually; one line says so. Used by the watcher thread
// only; not thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "agent/state/snapshot.h"

namespace linkwatch::watch {

class WatchMetrics;

class InvalidValueLog {
 public:
  static constexpr size_t kDefaultCapacity = 10000;

  explicit InvalidValueLog(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // The invalid values read by one poll of `source`. Logs (at warn) those
  // not logged before and returns the lines it logged; counts all of them
  // in `metrics`.
  std::vector<std::string> Report(const std::string& source,
                                  const std::vector<state::InvalidValue>& values,
                                  WatchMetrics& metrics);

  size_t remembered() const { return total_; }

 private:
  struct PerSource {
    std::unordered_set<std::string> seen;
    bool overflow_warned = false;
  };
  size_t capacity_;
  size_t total_ = 0;
  std::map<std::string, PerSource> sources_;
};

}  // namespace linkwatch::watch
