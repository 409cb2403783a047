// The YAML keys every HTTP integration shares (webhook, teams, ...): `url`, a
// secret that must be http:// or https://, and `timeout`, a duration above 0
// (default net::kDefaultHttpTimeout). One home, so each integration reports
// the same problems with file:line:column and never prints a URL (it may be
// a secret).
//
// Used while loading the config, on one thread; stateless.
#pragma once

#include <string>

#include "agent/core/clock.h"
#include "agent/core/secret.h"

namespace YAML {
class Node;
}

namespace linkwatch::notifiers {

struct ReceiverContext;

// spec["url"]: required; adds a problem (what + ": url is required", or that
// it must start with http:// or https://) and returns an empty Secret when
// it is missing or wrong. `what` is ctx.What("<integration>").
Secret ParseHttpUrl(const YAML::Node& spec, const ReceiverContext& ctx, const std::string& what);

// spec["timeout"]: optional duration above 0; the default when absent or wrong
// (a problem is added then).
Millis ParseHttpTimeout(const YAML::Node& spec, const ReceiverContext& ctx,
                        const std::string& what);

}  // namespace linkwatch::notifiers
