// SyncMetrics: the sync core's own metrics (contract.md section 7), built on
// the prometheus::Registry it is given (the agent's, or a test's local one):
// linkwatch_sync_changes_total{profile, entity, op},
// linkwatch_sync_lag_seconds{profile}, linkwatch_sync_failed_records_total,
// linkwatch_sync_invalid_text_total (profile, entity),
// linkwatch_sync_table_errors_total and linkwatch_sync_table_error (profile,
// entity, reason; docs/sync.md "Breaks"), and the engine's failed writes to
// the state store (agent/state/store_metrics.h).
//
// Each linked table counts through its own Table, which caches its children:
// a committed batch touches cached counters, not label lookups.
//
// SyncMetrics is thread-safe and outlives the engine; a Table belongs to the
// one worker of its table (not thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "agent/state/store_metrics.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace linkwatch::sync {

class SyncMetrics {
 public:
  explicit SyncMetrics(prometheus::Registry& registry);
  SyncMetrics(const SyncMetrics&) = delete;
  SyncMetrics& operator=(const SyncMetrics&) = delete;

  class Table {
   public:
    void CountChanges(int64_t created, int64_t updated, int64_t deleted);
    void CountFailedRecords(double n);
    void CountInvalidText(double n);
    void ObserveLag(double seconds);
    // One recorded failure or break under `reason`.
    void CountError(const std::string& reason);
    // The table's current error: the gauge at 1 with `reason`, or no series
    // once "" (a round committed again).
    void SetCurrentError(const std::string& reason);

   private:
    friend class SyncMetrics;
    Table(SyncMetrics& metrics, std::string profile, std::string entity);
    SyncMetrics& metrics_;
    const std::string profile_, entity_;
    prometheus::Counter& failed_records_;
    prometheus::Counter& invalid_text_;
    prometheus::Counter* changes_[3] = {};  // create, update, delete; on first use
    prometheus::Histogram* lag_ = nullptr;  // on first use
    std::map<std::string, prometheus::Counter*> errors_;
    std::string current_error_;
    prometheus::Gauge* current_error_gauge_ = nullptr;
  };
  // A linked table's series; failed records and invalid text exist at 0
  // from here on (even for a table that cannot be synced yet), so that
  // rate() and absence alerts work.
  std::unique_ptr<Table> ForTable(const std::string& profile, const std::string& entity);

  void CountStateStoreWriteError() { write_errors_.Count(); }
  // A Dataverse webhook call to a profile, by result (accepted,
  // unknown_table, unauthorized, refused, bad_request). Thread-safe.
  void CountWebhook(const std::string& profile, const std::string& result);

 private:
  prometheus::Family<prometheus::Counter>& changes_;
  prometheus::Family<prometheus::Histogram>& lag_;
  prometheus::Family<prometheus::Counter>& failed_records_;
  prometheus::Family<prometheus::Counter>& invalid_text_;
  prometheus::Family<prometheus::Counter>& table_errors_;
  prometheus::Family<prometheus::Gauge>& table_error_;
  prometheus::Family<prometheus::Counter>& webhooks_;
  state::StoreWriteErrors write_errors_;
};

}  // namespace linkwatch::sync
