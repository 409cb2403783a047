// NotifierMetrics: the notification metrics the outbox keeps (contract.md
// section 7), built on the prometheus::Registry it is given (the agent's, or
// a test's local one): linkwatch_notifications_total,
// linkwatch_notifications_failed_total, linkwatch_notifications_dead_total,
// linkwatch_notification_latency_seconds (labels receiver, integration
// [, reason]), linkwatch_outbox_pending{receiver}, and the outbox's failed
// writes to the state store (agent/state/store_metrics.h).
//
// InitReceiver creates a configured receiver's counters at 0 with every
// documented reason (so that rate() and absence alerts work before the first
// event) and caches them: counting for that receiver then touches a cached
// child, not a label lookup in the family. Anything else (a receiver no
// longer configured, an undocumented reason) is counted through the family.
//
// Thread-safe; outlives the outbox that counts into it.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "agent/state/store_metrics.h"
#include "notifiers/notifier.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace linkwatch::notifiers {

class NotifierMetrics {
 public:
  explicit NotifierMetrics(prometheus::Registry& registry);
  ~NotifierMetrics();
  NotifierMetrics(const NotifierMetrics&) = delete;
  NotifierMetrics& operator=(const NotifierMetrics&) = delete;

  void InitReceiver(const std::string& receiver, const std::string& integration);
  void Delivered(const std::string& receiver, const std::string& integration,
                 double latency_seconds);
  void Failed(const std::string& receiver, const std::string& integration,
              const std::string& reason);
  void Dead(const std::string& receiver, const std::string& integration, const std::string& reason);

  // linkwatch_outbox_pending of a configured receiver; RemovePending drops
  // the series of one no longer configured.
  void SetPending(const std::string& receiver, double n);
  void RemovePending(const std::string& receiver);

  void CountStateStoreWriteError() { write_errors_.Count(); }

 private:
  // One receiver's cached children for one integration.
  struct Series {
    prometheus::Counter* delivered = nullptr;
    prometheus::Histogram* latency = nullptr;  // created at the first delivery
    std::array<prometheus::Counter*, kFailedReasons.size()> failed{};
    std::array<prometheus::Counter*, kDeadReasons.size()> dead{};
  };
  prometheus::Family<prometheus::Counter>& delivered_;
  prometheus::Family<prometheus::Counter>& failed_;
  prometheus::Family<prometheus::Counter>& dead_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Gauge>& pending_;
  state::StoreWriteErrors write_errors_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Series> series_;
  std::map<std::string, prometheus::Gauge*> pending_by_receiver_;
};

}  // namespace linkwatch::notifiers
