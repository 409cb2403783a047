// MetricValue: one sample of a metric as a scrape would see it, read from a
// prometheus::Registry (or any Collectable) that a test built the component
// under test on: a counter's or gauge's value, a histogram's sample count;
// nullopt when no series has exactly those labels. Header-only, for tests.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace linkwatch::fakes {

inline std::optional<double> MetricValue(const prometheus::Collectable& registry,
                                         std::string_view name,
                                         const std::map<std::string, std::string>& labels) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have != labels) continue;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          return m.counter.value;
        case prometheus::MetricType::Gauge:
          return m.gauge.value;
        case prometheus::MetricType::Histogram:
          return static_cast<double>(m.histogram.sample_count);
        default:
          return m.untyped.value;
      }
    }
  }
  return std::nullopt;
}

}  // namespace linkwatch::fakes
