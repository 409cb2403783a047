// Prometheus text exposition (format 0.0.4) of any set of collectables:
// the registry the components' metrics live on, the StateCollector, and
// whatever else a component registers. prometheus-cpp's TextSerializer does
// the writing, so escaping and number formatting follow the reference
// client; collectables with very many series may write the same text
// themselves, faster (TextCollectable). Collectables are thread-safe; so is this.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace linkwatch {

// A collectable that can also write its own text exposition straight into a
// buffer, skipping the MetricFamily intermediate and std::ostream: for
// collectables with tens of thousands of series (the StateCollector), where
// that is most of a scrape's cost. AppendText must produce exactly what
// prometheus::TextSerializer produces for Collect() (tests check this).
class TextCollectable {
 public:
  virtual ~TextCollectable() = default;
  virtual void AppendText(std::string* out) const = 0;
};

// Helpers for TextCollectable implementations, formatting like
// prometheus-cpp's TextSerializer: values as printf "%.16g" ("Nan",
// "+Inf", "-Inf"), label values with \\, \" and \n escaped.
void AppendSampleValue(std::string* out, double value);
void AppendEscapedLabelValue(std::string* out, std::string_view value);

// The Content-Type of a /metrics answer.
inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Collects every collectable (null entries are skipped) in order and
// serializes all their families with prometheus::TextSerializer, or with
// AppendText for those that are also TextCollectables.
std::string SerializeMetrics(const std::vector<const prometheus::Collectable*>& collectables);

}  // namespace linkwatch
