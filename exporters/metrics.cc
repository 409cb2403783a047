#include "exporters/metrics.h"

namespace linkwatch {
namespace {

template <typename T>
prometheus::Family<T>& Make(prometheus::Registry& r, const char* name, const char* help) {
  if constexpr (std::is_same_v<T, prometheus::Counter>) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
  } else if constexpr (std::is_same_v<T, prometheus::Gauge>) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(r);
  } else {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
  }
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      notifications_total(Make<prometheus::Counter>(*registry_, "linkwatch_notifications_total",
                                                    "Notifications delivered.")),
      notifications_failed_total(
          Make<prometheus::Counter>(*registry_, "linkwatch_notifications_failed_total",
                                    "Failed notification attempts, by reason.")),
      notifications_dead_total(
          Make<prometheus::Counter>(*registry_, "linkwatch_notifications_dead_total",
                                    "Notifications dead-lettered, by reason.")),
      notification_latency_seconds(
          Make<prometheus::Histogram>(*registry_, "linkwatch_notification_latency_seconds",
                                      "Time from a notification's creation to its delivery.")),
      outbox_pending(Make<prometheus::Gauge>(*registry_, "linkwatch_outbox_pending",
                                             "Notifications waiting in the outbox.")),
      watch_polls_total(Make<prometheus::Counter>(*registry_, "linkwatch_watch_polls_total",
                                                  "Polls of watched state sources.")),
      watch_poll_errors_total(Make<prometheus::Counter>(
          *registry_, "linkwatch_watch_poll_errors_total", "Polls that failed.")),
      watch_invalid_values_total(Make<prometheus::Counter>(
          *registry_, "linkwatch_watch_invalid_values_total",
          "State values read as null because they do not fit their column (not a number, out "
          "of range, not a datetime), counted at every poll that reads them.")),
      rule_evaluation_duration_seconds(
          Make<prometheus::Histogram>(*registry_, "linkwatch_rule_evaluation_duration_seconds",
                                      "Time to evaluate one rule group over one source's state.")),
      sync_changes_total(Make<prometheus::Counter>(*registry_, "linkwatch_sync_changes_total",
                                                   "Changes committed to a destination.")),
      sync_lag_seconds(
          Make<prometheus::Histogram>(*registry_, "linkwatch_sync_lag_seconds",
                                      "Source change to committed in the destination.")),
      sync_failed_records_total(Make<prometheus::Counter>(
          *registry_, "linkwatch_sync_failed_records_total",
          "Source rows left out of the destination because they cannot be written as its "
          "types (failed records).")),
      sync_invalid_text_total(Make<prometheus::Counter>(
          *registry_, "linkwatch_sync_invalid_text_total",
          "Source texts that were not valid UTF-8, written with U+FFFD replacements.")),
      sync_table_errors_total(Make<prometheus::Counter>(
          *registry_, "linkwatch_sync_table_errors_total",
          "Recorded failures of a table's sync (a failed round, a table that cannot be synced, "
          "an initial sync failing three times, a break in the chain of changes), by reason.")),
      sync_table_error(Make<prometheus::Gauge>(
          *registry_, "linkwatch_sync_table_error",
          "1 while a table's last sync attempt failed or a break is being repaired, with the "
          "reason; absent once a round commits again.")),
      state_store_up(Make<prometheus::Gauge>(
          *registry_, "linkwatch_state_store_up",
          "1 while the state store connection is the file at the state_db path; 0 once that "
          "file was deleted or replaced (nothing is written then).")),
      state_store_write_errors_total(Make<prometheus::Counter>(
          *registry_, "linkwatch_state_store_write_errors_total",
          "Failed writes to the state store (locked, deleted file, I/O), by operation.")),
      config_last_reload_successful(
          Make<prometheus::Gauge>(*registry_, "linkwatch_config_last_reload_successful",
                                  "Whether the last configuration reload attempt succeeded.")),
      config_last_reload_success_timestamp_seconds(Make<prometheus::Gauge>(
          *registry_, "linkwatch_config_last_reload_success_timestamp_seconds",
          "Timestamp of the last successful configuration reload.")) {
  // Counters exist from the start, so that rate() and absence alerts work.
  for (const char* op : {"alert_state", "outbox", "sync"}) {
    state_store_write_errors_total.Add({{"operation", op}});
  }
  state_store_up.Add({}).Set(1);
  prometheus::BuildGauge()
      .Name("linkwatch_build_info")
      .Help("linkwatch build information.")
      .Register(*registry_)
      .Add({{"version", LINKWATCH_VERSION}})
      .Set(1);
}

void Metrics::CountStateStoreWriteError(const std::string& operation) {
  state_store_write_errors_total.Add({{"operation", operation}}).Increment();
}

const prometheus::Histogram::BucketBoundaries& Metrics::LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  return kBuckets;
}

}  // namespace linkwatch
