#include "notifiers/notifier_metrics.h"

#include <algorithm>

#include "agent/core/metric_buckets.h"
#include "agent/core/metric_families.h"

namespace linkwatch::notifiers {
namespace {

template <size_t N>
int IndexOf(const std::array<std::string_view, N>& reasons, const std::string& reason) {
  const auto it = std::find(reasons.begin(), reasons.end(), reason);
  return it == reasons.end() ? -1 : static_cast<int>(it - reasons.begin());
}

prometheus::Labels Labels(const std::string& receiver, const std::string& integration) {
  return {{"receiver", receiver}, {"integration", integration}};
}

prometheus::Labels Labels(const std::string& receiver, const std::string& integration,
                          std::string_view reason) {
  return {{"receiver", receiver}, {"integration", integration}, {"reason", std::string(reason)}};
}

}  // namespace

NotifierMetrics::NotifierMetrics(prometheus::Registry& registry)
    : delivered_(
          CounterFamily(registry, "linkwatch_notifications_total", "Notifications delivered.")),
      failed_(CounterFamily(registry, "linkwatch_notifications_failed_total",
                            "Failed notification attempts, by reason.")),
      dead_(CounterFamily(registry, "linkwatch_notifications_dead_total",
                          "Notifications dead-lettered, by reason.")),
      latency_(HistogramFamily(registry, "linkwatch_notification_latency_seconds",
                               "Time from a notification's creation to its delivery.")),
      pending_(GaugeFamily(registry, "linkwatch_outbox_pending",
                           "Notifications waiting in the outbox.")),
      write_errors_(registry, "outbox") {}

NotifierMetrics::~NotifierMetrics() = default;

void NotifierMetrics::InitReceiver(const std::string& receiver, const std::string& integration) {
  std::lock_guard lock(mu_);
  Series& s = series_[{receiver, integration}];
  if (s.delivered != nullptr) return;
  s.delivered = &delivered_.Add(Labels(receiver, integration));
  for (size_t i = 0; i < kFailedReasons.size(); ++i) {
    s.failed[i] = &failed_.Add(Labels(receiver, integration, kFailedReasons[i]));
  }
  for (size_t i = 0; i < kDeadReasons.size(); ++i) {
    s.dead[i] = &dead_.Add(Labels(receiver, integration, kDeadReasons[i]));
  }
}

void NotifierMetrics::Delivered(const std::string& receiver, const std::string& integration,
                                double latency_seconds) {
  std::lock_guard lock(mu_);
  auto it = series_.find({receiver, integration});
  if (it == series_.end()) {
    delivered_.Add(Labels(receiver, integration)).Increment();
    latency_.Add(Labels(receiver, integration), LatencyBuckets()).Observe(latency_seconds);
    return;
  }
  Series& s = it->second;
  if (s.latency == nullptr)
    s.latency = &latency_.Add(Labels(receiver, integration), LatencyBuckets());
  s.delivered->Increment();
  s.latency->Observe(latency_seconds);
}

void NotifierMetrics::Failed(const std::string& receiver, const std::string& integration,
                             const std::string& reason) {
  std::lock_guard lock(mu_);
  auto it = series_.find({receiver, integration});
  const int i = IndexOf(kFailedReasons, reason);
  if (it != series_.end() && i >= 0) {
    it->second.failed[i]->Increment();
  } else {
    failed_.Add(Labels(receiver, integration, reason)).Increment();
  }
}

void NotifierMetrics::Dead(const std::string& receiver, const std::string& integration,
                           const std::string& reason) {
  std::lock_guard lock(mu_);
  auto it = series_.find({receiver, integration});
  const int i = IndexOf(kDeadReasons, reason);
  if (it != series_.end() && i >= 0) {
    it->second.dead[i]->Increment();
  } else {
    dead_.Add(Labels(receiver, integration, reason)).Increment();
  }
}

void NotifierMetrics::SetPending(const std::string& receiver, double n) {
  std::lock_guard lock(mu_);
  auto& gauge = pending_by_receiver_[receiver];
  if (gauge == nullptr) gauge = &pending_.Add({{"receiver", receiver}});
  gauge->Set(n);
}

void NotifierMetrics::RemovePending(const std::string& receiver) {
  std::lock_guard lock(mu_);
  auto it = pending_by_receiver_.find(receiver);
  if (it == pending_by_receiver_.end()) return;
  pending_.Remove(it->second);
  pending_by_receiver_.erase(it);
}

}  // namespace linkwatch::notifiers
