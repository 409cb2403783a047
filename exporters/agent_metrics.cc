#include "exporters/agent_metrics.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace linkwatch {

AgentMetrics::AgentMetrics(prometheus::Registry& registry)
    : reload_successful_(prometheus::BuildGauge()
                             .Name("linkwatch_config_last_reload_successful")
                             .Help("Whether the last configuration reload attempt succeeded.")
                             .Register(registry)),
      reload_success_timestamp_(prometheus::BuildGauge()
                                    .Name("linkwatch_config_last_reload_success_timestamp_seconds")
                                    .Help("Timestamp of the last successful configuration reload.")
                                    .Register(registry)) {
  prometheus::BuildGauge()
      .Name("linkwatch_build_info")
      .Help("linkwatch build information.")
      .Register(registry)
      .Add({{"version", LINKWATCH_VERSION}})
      .Set(1);
}

void AgentMetrics::Reloaded(bool ok, double now) {
  reload_successful_.Add({}).Set(ok ? 1 : 0);
  if (ok) reload_success_timestamp_.Add({}).Set(now);
}

}  // namespace linkwatch
