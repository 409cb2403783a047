#include "exporters/exposition.h"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace linkwatch {

void AppendSampleValue(std::string* out, double value) {
  if (std::isnan(value)) {
    out->append("Nan");
    return;
  }
  if (std::isinf(value)) {
    out->append(value < 0 ? "-Inf" : "+Inf");
    return;
  }
  char buf[40];
  // Fast path for whole numbers (timestamps, counts, 0/1): "%.16g" prints
  // them as plain integers below 1e15. -0 keeps its sign via printf.
  if (value == std::trunc(value) && std::fabs(value) < 1e15 &&
      !(value == 0 && std::signbit(value))) {
    const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(value));
    out->append(buf, r.ptr);
    return;
  }
  const int n = snprintf(buf, sizeof buf, "%.16g", value);
  out->append(buf, static_cast<size_t>(n));
}

void AppendEscapedLabelValue(std::string* out, std::string_view value) {
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\\' || c == '"' || c == '\n') {
      out->append(value.data() + start, i - start);
      out->push_back('\\');
      out->push_back(c == '\n' ? 'n' : c);
      start = i + 1;
    }
  }
  out->append(value.data() + start, value.size() - start);
}

std::string SerializeMetrics(const std::vector<const prometheus::Collectable*>& collectables) {
  std::string out;
  for (const prometheus::Collectable* c : collectables) {
    if (c == nullptr) continue;
    if (const auto* direct = dynamic_cast<const TextCollectable*>(c)) {
      direct->AppendText(&out);
      continue;
    }
    std::ostringstream text;
    prometheus::TextSerializer().Serialize(text, c->Collect());
    out += std::move(text).str();
  }
  return out;
}

}  // namespace linkwatch
