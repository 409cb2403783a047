// AgentMetrics: the metrics of the agent process itself (contract.md section
// 7), built on the prometheus::Registry it is given: linkwatch_build_info and
// the reload gauges (linkwatch_config_last_reload_successful,
// linkwatch_config_last_reload_success_timestamp_seconds, as Prometheus
// names them). There is no central metrics object: each component owns its
// metrics on the same registry (RulesMetrics, notifiers::NotifierMetrics,
// sync::SyncMetrics, watch::WatchMetrics), and state-derived gauges are
// produced at scrape time by the StateCollector (state_collector.h).
//
// Thread-safe (prometheus-cpp gauges are).
#pragma once

namespace prometheus {
class Gauge;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace linkwatch {

class AgentMetrics {
 public:
  explicit AgentMetrics(prometheus::Registry& registry);
  AgentMetrics(const AgentMetrics&) = delete;
  AgentMetrics& operator=(const AgentMetrics&) = delete;

  // A configuration (re)load: `ok` or not, at `now` (epoch seconds). The
  // reload series exist from the first call on (the load at start).
  void Reloaded(bool ok, double now);

 private:
  prometheus::Family<prometheus::Gauge>& reload_successful_;
  prometheus::Family<prometheus::Gauge>& reload_success_timestamp_;
};

}  // namespace linkwatch
