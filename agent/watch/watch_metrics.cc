#include "agent/watch/watch_metrics.h"

#include "agent/core/metric_families.h"

namespace linkwatch::watch {

WatchMetrics::WatchMetrics(prometheus::Registry& registry)
    : polls_(CounterFamily(registry, "linkwatch_watch_polls_total",
                           "Polls of watched state sources.")),
      poll_errors_(
          CounterFamily(registry, "linkwatch_watch_poll_errors_total", "Polls that failed.")),
      invalid_values_(CounterFamily(
          registry, "linkwatch_watch_invalid_values_total",
          "State values read as null because they do not fit their column (not a number, out "
          "of range, not a datetime), counted at every poll that reads them.")),
      store_up_(GaugeFamily(registry, "linkwatch_state_store_up",
                            "1 while the state store connection is the file at the state_db "
                            "path; 0 once that file was deleted or replaced (nothing is written "
                            "then).")
                    .Add({})) {
  store_up_.Set(1);
}

WatchMetrics::SourceSeries& WatchMetrics::SourceLocked(const std::string& source) {
  SourceSeries& s = sources_[source];
  if (s.polls == nullptr) {
    s.polls = &polls_.Add({{"source", source}});
    s.errors = &poll_errors_.Add({{"source", source}});
  }
  return s;
}

void WatchMetrics::AddSource(const std::string& source) {
  std::lock_guard lock(mu_);
  SourceLocked(source);
}

void WatchMetrics::CountPoll(const std::string& source) {
  std::lock_guard lock(mu_);
  SourceLocked(source).polls->Increment();
}

void WatchMetrics::CountPollError(const std::string& source) {
  std::lock_guard lock(mu_);
  SourceLocked(source).errors->Increment();
}

void WatchMetrics::CountInvalidValue(const std::string& source, const std::string& table,
                                     const std::string& column) {
  std::lock_guard lock(mu_);
  auto& counter = invalid_[{source, table, column}];
  if (counter == nullptr) {
    counter = &invalid_values_.Add({{"source", source}, {"table", table}, {"column", column}});
  }
  counter->Increment();
}

void WatchMetrics::SetStoreUp(bool up) { store_up_.Set(up ? 1 : 0); }

}  // namespace linkwatch::watch
