#include "agent/sync/sync_metrics.h"

#include "agent/core/metric_buckets.h"
#include "agent/core/metric_families.h"

namespace linkwatch::sync {

SyncMetrics::SyncMetrics(prometheus::Registry& registry)
    : changes_(CounterFamily(registry, "linkwatch_sync_changes_total",
                             "Changes committed to a destination.")),
      lag_(HistogramFamily(registry, "linkwatch_sync_lag_seconds",
                           "Source change to committed in the destination.")),
      failed_records_(CounterFamily(
          registry, "linkwatch_sync_failed_records_total",
          "Source rows left out of the destination because they cannot be written as its "
          "types (failed records).")),
      invalid_text_(CounterFamily(
          registry, "linkwatch_sync_invalid_text_total",
          "Source texts that were not valid UTF-8, written with U+FFFD replacements.")),
      table_errors_(CounterFamily(
          registry, "linkwatch_sync_table_errors_total",
          "Recorded failures of a table's sync (a failed round, a table that cannot be synced, "
          "an initial sync failing three times, a break in the chain of changes), by reason.")),
      table_error_(GaugeFamily(registry, "linkwatch_sync_table_error",
                               "1 while a table's last sync attempt failed or a break is being "
                               "repaired, with the reason; absent once a round commits again.")),
      webhooks_(CounterFamily(registry, "linkwatch_dataverse_webhook_requests_total",
                              "Dataverse webhook calls to a profile, by result (accepted: a "
                              "delta read of the table was queued).")),
      write_errors_(registry, "sync") {}

void SyncMetrics::CountWebhook(const std::string& profile, const std::string& result) {
  webhooks_.Add({{"profile", profile}, {"result", result}}).Increment();
}

std::unique_ptr<SyncMetrics::Table> SyncMetrics::ForTable(const std::string& profile,
                                                          const std::string& entity) {
  return std::unique_ptr<Table>(new Table(*this, profile, entity));
}

SyncMetrics::Table::Table(SyncMetrics& metrics, std::string profile, std::string entity)
    : metrics_(metrics),
      profile_(std::move(profile)),
      entity_(std::move(entity)),
      failed_records_(metrics.failed_records_.Add({{"profile", profile_}, {"entity", entity_}})),
      invalid_text_(metrics.invalid_text_.Add({{"profile", profile_}, {"entity", entity_}})) {}

void SyncMetrics::Table::CountChanges(int64_t created, int64_t updated, int64_t deleted) {
  const std::pair<const char*, int64_t> ops[] = {
      {"create", created}, {"update", updated}, {"delete", deleted}};
  for (int i = 0; i < 3; ++i) {
    const auto& [op, n] = ops[i];
    if (n <= 0) continue;
    if (changes_[i] == nullptr) {
      changes_[i] =
          &metrics_.changes_.Add({{"profile", profile_}, {"entity", entity_}, {"op", op}});
    }
    changes_[i]->Increment(static_cast<double>(n));
  }
}

void SyncMetrics::Table::CountFailedRecords(double n) { failed_records_.Increment(n); }

void SyncMetrics::Table::CountInvalidText(double n) { invalid_text_.Increment(n); }

void SyncMetrics::Table::ObserveLag(double seconds) {
  if (lag_ == nullptr) lag_ = &metrics_.lag_.Add({{"profile", profile_}}, LatencyBuckets());
  lag_->Observe(seconds);
}

void SyncMetrics::Table::CountError(const std::string& reason) {
  auto& counter = errors_[reason];
  if (counter == nullptr) {
    counter = &metrics_.table_errors_.Add(
        {{"profile", profile_}, {"entity", entity_}, {"reason", reason}});
  }
  counter->Increment();
}

void SyncMetrics::Table::SetCurrentError(const std::string& reason) {
  if (reason == current_error_) return;
  if (current_error_gauge_ != nullptr) metrics_.table_error_.Remove(current_error_gauge_);
  current_error_gauge_ = nullptr;
  if (!reason.empty()) {
    current_error_gauge_ = &metrics_.table_error_.Add(
        {{"profile", profile_}, {"entity", entity_}, {"reason", reason}});
    current_error_gauge_->Set(1);
  }
  current_error_ = reason;
}

}  // namespace linkwatch::sync
