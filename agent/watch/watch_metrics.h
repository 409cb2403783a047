// WatchMetrics: the watcher's own metrics (contract.md section 7), built on
// the prometheus::Registry it is given (the agent's, or a test's local one):
// linkwatch_watch_polls_total{source}, linkwatch_watch_poll_errors_total
// {source}, linkwatch_watch_invalid_values_total{source, table, column} and
// linkwatch_state_store_up (the store health check runs in the watcher).
//
// A source's poll counters are created at 0 by AddSource and cached, so a
// poll touches a cached child, not a label lookup in the family.
//
// Thread-safe; outlives the Watcher, StoreHealth and InvalidValueLog that
// count into it.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace prometheus {
class Counter;
class Gauge;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace linkwatch::watch {

class WatchMetrics {
 public:
  // Sets linkwatch_state_store_up to 1 (until SetStoreUp(false)).
  explicit WatchMetrics(prometheus::Registry& registry);
  WatchMetrics(const WatchMetrics&) = delete;
  WatchMetrics& operator=(const WatchMetrics&) = delete;

  // Creates the source's counters at 0, so that rate() and absence alerts
  // work before the first (failed) poll.
  void AddSource(const std::string& source);
  void CountPoll(const std::string& source);
  void CountPollError(const std::string& source);
  void CountInvalidValue(const std::string& source, const std::string& table,
                         const std::string& column);
  void SetStoreUp(bool up);

 private:
  struct SourceSeries {
    prometheus::Counter* polls = nullptr;
    prometheus::Counter* errors = nullptr;
  };
  SourceSeries& SourceLocked(const std::string& source);

  prometheus::Family<prometheus::Counter>& polls_;
  prometheus::Family<prometheus::Counter>& poll_errors_;
  prometheus::Family<prometheus::Counter>& invalid_values_;
  prometheus::Gauge& store_up_;
  std::mutex mu_;
  std::map<std::string, SourceSeries> sources_;
  std::map<std::tuple<std::string, std::string, std::string>, prometheus::Counter*> invalid_;
};

}  // namespace linkwatch::watch
