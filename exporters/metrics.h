// Metrics: linkwatch's own Prometheus metric families (contract.md section 7)
// in one prometheus-cpp Registry. Components get a Metrics& and add to the
// counters/histograms they own; state-derived gauges (entity and profile
// state, alert counts) are produced at scrape time by collectables that
// the watcher registers (see exporters/state_collector.h), so a scrape never
// sees a half-updated set. prometheus-cpp families are thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace linkwatch {

class Metrics {
  // Declared first: the family references below are initialized from it.
  std::shared_ptr<prometheus::Registry> registry_;

 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

  // Notifications (labels: receiver, integration [, reason]).
  prometheus::Family<prometheus::Counter>& notifications_total;
  prometheus::Family<prometheus::Counter>& notifications_failed_total;
  prometheus::Family<prometheus::Counter>& notifications_dead_total;
  prometheus::Family<prometheus::Histogram>& notification_latency_seconds;
  prometheus::Family<prometheus::Gauge>& outbox_pending;  // receiver

  // Watcher (label: source) and rules (label: group).
  prometheus::Family<prometheus::Counter>& watch_polls_total;
  prometheus::Family<prometheus::Counter>& watch_poll_errors_total;
  // Stored state values read as null (labels: source, table, column).
  prometheus::Family<prometheus::Counter>& watch_invalid_values_total;
  prometheus::Family<prometheus::Histogram>& rule_evaluation_duration_seconds;

  // Sync core (labels: profile, entity, op / profile).
  prometheus::Family<prometheus::Counter>& sync_changes_total;
  prometheus::Family<prometheus::Histogram>& sync_lag_seconds;
  // Labels profile, entity; initialised at 0 for each linked table.
  prometheus::Family<prometheus::Counter>& sync_failed_records_total;
  prometheus::Family<prometheus::Counter>& sync_invalid_text_total;
  // Per-table failures (labels profile, entity, reason; docs/sync.md
  // "Breaks"): one per recorded failure or break, and a gauge at 1 for the
  // table's current error (its reason) while it lasts, absent otherwise.
  prometheus::Family<prometheus::Counter>& sync_table_errors_total;
  prometheus::Family<prometheus::Gauge>& sync_table_error;

  // The state store (issue 7): whether its connection is still the file at
  // the state_db path (1) or the file was deleted or replaced (0), and writes
  // that failed (busy, refused, I/O), by operation: alert_state, outbox, sync.
  prometheus::Family<prometheus::Gauge>& state_store_up;
  prometheus::Family<prometheus::Counter>& state_store_write_errors_total;
  void CountStateStoreWriteError(const std::string& operation);
  // Reloads (SIGHUP, POST /-/reload), as Prometheus names them.
  prometheus::Family<prometheus::Gauge>& config_last_reload_successful;
  prometheus::Family<prometheus::Gauge>& config_last_reload_success_timestamp_seconds;

  static const prometheus::Histogram::BucketBoundaries& LatencyBuckets();
};

}  // namespace linkwatch
