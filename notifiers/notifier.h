// Notifier: one integration (webhook, file, log; later teams, email, sms,
// alertmanager). An integration only builds its request and classifies the
// answer; retries, backoff, rate limits, dead letters and metrics live in the
// outbox (notifiers/outbox.h), in one place.
//
// A Notifier is owned by the outbox worker of its receiver and is called from
// that one thread only, so implementations need not be thread-safe (they may
// keep a connection between calls).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "agent/core/clock.h"
#include "notifiers/notification.h"

namespace linkwatch::notifiers {

// The documented reasons (contract.md section 7) of
// linkwatch_notifications_failed_total and linkwatch_notifications_dead_total.
// The outbox creates these series at 0 for every configured receiver, so
// that rate() and absence alerts work before the first failure.
inline constexpr std::array<std::string_view, 7> kFailedReasons = {
    "clientError", "serverError", "authError", "rateLimited", "timeout", "template", "other"};
inline constexpr std::array<std::string_view, 3> kDeadReasons = {"clientError", "authError",
                                                                 "expired"};

struct SendResult {
  enum Kind { kOk, kRetry, kPermanent };
  Kind kind = kOk;
  // Metric reason of a failure: clientError, serverError, authError,
  // rateLimited, timeout, template, other.
  std::string reason;
  std::string detail;  // for logs and the API; never contains a secret
  std::optional<Millis> retry_after;
  // A message template of the receiver failed (MessageTemplates::Render):
  // the message went out with the default wording; the outbox counts one
  // failure with reason "template" for the notification and logs this text.
  std::string template_error;

  static SendResult Ok() { return {}; }
  static SendResult Retry(std::string reason, std::string detail,
                          std::optional<Millis> retry_after = std::nullopt) {
    return {kRetry, std::move(reason), std::move(detail), retry_after, {}};
  }
  static SendResult Permanent(std::string reason, std::string detail) {
    return {kPermanent, std::move(reason), std::move(detail), std::nullopt, {}};
  }
  bool ok() const { return kind == kOk; }
};

// Token bucket: `per_second` tokens per second, at most `burst` saved up.
struct RateLimit {
  double per_second = 0;
  double burst = 1;
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // The YAML key of the integration, e.g. "webhook"; a metric label.
  virtual const std::string& integration() const = 0;
  virtual SendResult Send(const Notification& n) = 0;
  // The provider's published limit (Teams: 4 per second); a receiver's
  // rate_limit overrides it. None by default.
  virtual std::optional<RateLimit> DefaultRateLimit() const { return std::nullopt; }
  // An integration that must see every firing alert again within this
  // period (alertmanager: its alerts expire otherwise): the dispatcher
  // re-sends the receiver's groups at least this often.
  virtual std::optional<Millis> ResendInterval() const { return std::nullopt; }
};

}  // namespace linkwatch::notifiers
