#include "notifiers/notification.h"

#include <nlohmann/json.hpp>

#include "agent/core/time_format.h"

namespace linkwatch::notifiers {
namespace {

constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

// The subset of `sets` entries that every set has with the same value.
template <typename Get>
LabelSet Common(const std::vector<Alert>& alerts, Get get) {
  if (alerts.empty()) return {};
  LabelSet common = get(alerts.front());
  for (size_t i = 1; i < alerts.size() && !common.empty(); ++i) {
    const LabelSet& other = get(alerts[i]);
    for (auto it = common.begin(); it != common.end();) {
      auto found = other.find(it->first);
      if (found == other.end() || found->second != it->second) {
        it = common.erase(it);
      } else {
        ++it;
      }
    }
  }
  return common;
}

const char* StateText(AlertState s) { return AlertStateName(s); }

Result<AlertState> StateFromText(const std::string& s) {
  if (s == "firing") return AlertState::kFiring;
  if (s == "resolved") return AlertState::kResolved;
  if (s == "pending") return AlertState::kPending;
  if (s == "inactive") return AlertState::kInactive;
  return Status::Error("unknown alert state \"" + s + "\"");
}

}  // namespace

bool Notification::Firing() const { return FiringCount() > 0; }

const char* Notification::StatusText() const { return Firing() ? "firing" : "resolved"; }

int Notification::FiringCount() const {
  int n = 0;
  for (const auto& a : alerts) n += a.state == AlertState::kFiring ? 1 : 0;
  return n;
}

int Notification::ResolvedCount() const { return static_cast<int>(alerts.size()) - FiringCount(); }

LabelSet Notification::CommonLabels() const {
  return Common(alerts, [](const Alert& a) -> const LabelSet& { return a.labels; });
}

LabelSet Notification::CommonAnnotations() const {
  return Common(alerts, [](const Alert& a) -> const LabelSet& { return a.annotations; });
}

std::string Notification::Title() const {
  std::string out = Firing() ? "[FIRING:" + std::to_string(FiringCount()) + "]" : "[RESOLVED]";
  for (const auto& [name, value] : group_labels) out += " " + value;
  return out;
}

std::string GeneratorUrl(const std::string& external_url, const Alert& alert) {
  std::string base = external_url;
  if (!base.empty() && base.back() != '/') base += '/';
  return base + "#alert-" + alert.fingerprint;
}

nlohmann::json WebhookBody(const Notification& n, size_t max_alerts) {
  nlohmann::json alerts = nlohmann::json::array();
  size_t kept = n.alerts.size();
  if (max_alerts > 0 && kept > max_alerts) kept = max_alerts;
  for (size_t i = 0; i < kept; ++i) {
    const Alert& a = n.alerts[i];
    const bool firing = a.state == AlertState::kFiring;
    alerts.push_back({
        {"status", firing ? "firing" : "resolved"},
        {"labels", a.labels},
        {"annotations", a.annotations},
        {"startsAt", FormatDateTime(a.starts_at)},
        {"endsAt", firing || a.ends_at == 0 ? std::string(kZeroTime) : FormatDateTime(a.ends_at)},
        {"generatorURL", GeneratorUrl(n.external_url, a)},
        {"fingerprint", a.fingerprint},
    });
  }
  return {
      {"version", "4"},
      {"groupKey", n.group_key},
      {"truncatedAlerts", n.truncated_alerts + static_cast<int>(n.alerts.size() - kept)},
      {"status", n.StatusText()},
      {"receiver", n.receiver},
      {"groupLabels", n.group_labels},
      {"commonLabels", n.CommonLabels()},
      {"commonAnnotations", n.CommonAnnotations()},
      {"externalURL", n.external_url},
      {"alerts", std::move(alerts)},
  };
}

nlohmann::json ToJson(const Notification& n) {
  nlohmann::json alerts = nlohmann::json::array();
  for (const auto& a : n.alerts) {
    alerts.push_back({
        {"labels", a.labels},
        {"annotations", a.annotations},
        {"state", StateText(a.state)},
        {"activeAt", a.active_at},
        {"startsAt", a.starts_at},
        {"endsAt", a.ends_at},
        {"lastTrueAt", a.last_true_at},
        {"value", a.value},
        {"templateError", a.template_error},
        {"fingerprint", a.fingerprint},
    });
  }
  return {
      {"receiver", n.receiver},
      {"groupKey", n.group_key},
      {"groupLabels", n.group_labels},
      {"alerts", std::move(alerts)},
      {"createdAt", n.created_at},
      {"externalURL", n.external_url},
      {"truncatedAlerts", n.truncated_alerts},
  };
}

Result<Notification> NotificationFromJson(const nlohmann::json& j) {
  try {
    Notification n;
    n.receiver = j.at("receiver").get<std::string>();
    n.group_key = j.at("groupKey").get<std::string>();
    n.group_labels = j.at("groupLabels").get<LabelSet>();
    n.created_at = j.at("createdAt").get<double>();
    n.external_url = j.at("externalURL").get<std::string>();
    n.truncated_alerts = j.at("truncatedAlerts").get<int>();
    for (const auto& ja : j.at("alerts")) {
      Alert a;
      a.labels = ja.at("labels").get<LabelSet>();
      a.annotations = ja.at("annotations").get<LabelSet>();
      auto state = StateFromText(ja.at("state").get<std::string>());
      if (!state.ok()) return state.status();
      a.state = *state;
      a.active_at = ja.at("activeAt").get<double>();
      a.starts_at = ja.at("startsAt").get<double>();
      a.ends_at = ja.at("endsAt").get<double>();
      a.last_true_at = ja.at("lastTrueAt").get<double>();
      a.value = ja.at("value").get<std::string>();
      a.template_error = ja.value("templateError", false);
      a.fingerprint = ja.at("fingerprint").get<std::string>();
      n.alerts.push_back(std::move(a));
    }
    return n;
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(std::string("malformed notification: ") + e.what());
  }
}

std::string ToPayload(const Notification& n) { return ToJson(n).dump(); }

Result<Notification> FromPayload(std::string_view payload) {
  auto j = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Error("malformed notification: not JSON");
  return NotificationFromJson(j);
}

}  // namespace linkwatch::notifiers
