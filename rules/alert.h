// Alert: one alert instance as the rule engine produces it and the router,
// notifiers and HTTP API consume it. Labels are sorted (std::map) so that the
// fingerprint and every rendering is deterministic. Plain value type.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace linkwatch {

using LabelSet = std::map<std::string, std::string>;

enum class AlertState { kInactive, kPending, kFiring, kResolved };
const char* AlertStateName(AlertState s);  // "inactive", "pending", "firing", "resolved"

struct Alert {
  LabelSet labels;       // alertname, source, profile, entity + the rule's labels
  LabelSet annotations;  // rendered templates
  AlertState state = AlertState::kInactive;
  double active_at = 0;     // epoch seconds; first evaluation where expr held
  double starts_at = 0;     // when it started firing (0 if never)
  double ends_at = 0;       // when it resolved (0 while firing)
  double last_true_at = 0;  // last evaluation where expr held (keep_firing_for)
  std::string value;        // $value as text
  // A label or annotation template failed at runtime: its text is the error
  // message, and the notification counts a `template` failure.
  bool template_error = false;
  std::string fingerprint;  // LabelFingerprint(labels)
};

// Prometheus' label-set fingerprint: FNV-1a 64 over name, 0xff, value, 0xff
// for labels in sorted order, printed as 16 lower-case hex digits.
uint64_t LabelHash(const LabelSet& labels);
std::string LabelFingerprint(const LabelSet& labels);

// A label value in double quotes with ", \ and newlines escaped, as
// Alertmanager prints matchers and label sets.
std::string QuoteLabelValue(const std::string& value);
// Alertmanager's rendering of a label set: {a="x", b="y"} (sorted, quoted).
std::string FormatLabelSet(const LabelSet& labels);

}  // namespace linkwatch
