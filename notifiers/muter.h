// Muter: a mute stage of the notifier pipeline (Alertmanager's inhibitor
// and silencer; inhibitor.h, silences.h). The dispatcher (router.h) gives
// every alert the engine reports to Observe, before grouping, and asks Muted
// for each alert of a group it flushes, before a notification is created.
#pragma once

#include <vector>

#include "agent/core/clock.h"
#include "rules/alert.h"

namespace linkwatch::notifiers {

class Muter {
 public:
  virtual ~Muter() = default;
  virtual void Observe(const std::vector<Alert>& alerts) { (void)alerts; }
  virtual bool Muted(const Alert& alert, TimePoint now) const = 0;
};

}  // namespace linkwatch::notifiers
