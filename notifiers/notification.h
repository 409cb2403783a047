// Notification: one message for one alert group to one receiver, carrying the
// group's state at the moment the router created it (notifications.md, "What a
// notification is"). It is what the outbox stores (as JSON, see ToPayload) and
// what every Notifier sends. WebhookBody builds the Alertmanager webhook v4
// body that the webhook and file receivers (and later integrations) share, so
// that body has exactly one home.
//
// Plain value type; the free functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/status.h"
#include "rules/alert.h"

namespace linkwatch::notifiers {

struct Notification {
  std::string receiver;
  // Alertmanager style: route key ":" group labels, e.g.
  // {}:{alertname="SyncStalled", profile="crm"} or {}/{severity="critical"}:{...}.
  std::string group_key;
  LabelSet group_labels;
  // Firing and resolved alerts of the group (state kFiring or kResolved).
  std::vector<Alert> alerts;
  double created_at = 0;     // epoch seconds, when the router created it
  std::string external_url;  // linkwatch's own URL, e.g. http://127.0.0.1:9464/
  int truncated_alerts = 0;  // alerts the creator already left out

  // True while any alert of the group fires.
  bool Firing() const;
  // "firing" or "resolved".
  const char* StatusText() const;
  int FiringCount() const;
  int ResolvedCount() const;
  // Labels whose value is the same in every alert (Alertmanager commonLabels).
  LabelSet CommonLabels() const;
  LabelSet CommonAnnotations() const;
  // "[FIRING:2] SyncStalled crm": status, count, then the group label values
  // (the same short title Alertmanager's default templates use).
  std::string Title() const;
};

// FormatLabelSet (Alertmanager's {a="x", b="y"}) lives in rules/alert.h.

// The alert's link back to linkwatch: <external_url>#alert-<fingerprint>.
std::string GeneratorUrl(const std::string& external_url, const Alert& alert);

// The Alertmanager webhook v4 body (notifications.md). max_alerts > 0 keeps
// only the first max_alerts alerts and adds the others to truncatedAlerts.
nlohmann::json WebhookBody(const Notification& n, size_t max_alerts = 0);

// Outbox payload: every field, round-trips exactly.
nlohmann::json ToJson(const Notification& n);
Result<Notification> NotificationFromJson(const nlohmann::json& j);
std::string ToPayload(const Notification& n);
Result<Notification> FromPayload(std::string_view payload);

}  // namespace linkwatch::notifiers
