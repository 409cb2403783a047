// StateCollector: the state-derived gauges of contract.md section 7, built
// at scrape time from the latest state snapshot of every watch source and
// the latest alert list:
//
//   linkwatch_entity_last_synced_timestamp_seconds{source,profile,entity}
//   linkwatch_entity_sync_state{source,profile,entity,state}          (1)
//   linkwatch_entity_initial_sync_state{source,profile,entity,state}  (1)
//   linkwatch_entity_source_records{source,profile,entity}  (crmrecordcount)
//   linkwatch_entity_lake_records{source,profile,entity}    (lakerecordcount)
//   linkwatch_profile_state{source,profile,state}                     (1)
//   linkwatch_alerts{alertname,severity,state}    (pending/firing counts)
//
// `profile` is the profile row's name (entity-state rows hold the profile's
// id; a row whose profile is missing keeps the id); `state` is the choice
// label (an unknown code is printed as its number). Null cells give no
// series. Should a source hold two rows for the same profile and table, the
// first wins, so that a scrape never carries duplicate series.
//
// The watcher publishes after every poll; snapshots are shared immutable
// values, so publishing is a pointer swap. A scrape reads the latest ones
// and builds the series then; SerializeMetrics uses AppendText, which writes
// the text format directly (a scrape of 10,000 tables takes a few ms instead
// of the ~100 ms that MetricFamily + TextSerializer take). Thread-safe:
// Publish*, Collect and AppendText may run concurrently.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "agent/state/snapshot.h"
#include "exporters/exposition.h"
#include "rules/alert.h"

namespace linkwatch {

class StateCollector : public prometheus::Collectable, public TextCollectable {
 public:
  // Replaces the source's snapshot; nullptr forgets the source.
  void Publish(const std::string& source, std::shared_ptr<const state::Snapshot> snapshot);
  // Replaces the alert counts: pending and firing alerts are counted by
  // (alertname, severity); other states are ignored.
  void PublishAlerts(const std::vector<Alert>& alerts);

  std::vector<prometheus::MetricFamily> Collect() const override;
  // Same series as Collect(), as prometheus::TextSerializer would write them.
  void AppendText(std::string* out) const override;

 private:
  using AlertKey = std::tuple<std::string, std::string, std::string>;  // name, severity, state
  struct Published {
    std::vector<std::pair<std::string, std::shared_ptr<const state::Snapshot>>> snapshots;
    std::map<AlertKey, int> alert_counts;
  };
  Published Latest() const;
  static size_t EntityRows(const Published& p);
  // Feeds every series to `sink` (which groups them by family).
  template <typename Sink>
  static void Emit(const Published& published, Sink& sink);

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const state::Snapshot>> snapshots_;
  std::map<AlertKey, int> alert_counts_;
};

}  // namespace linkwatch
