// The `receivers:` list of the config file (contract.md section 3): each
// receiver has a unique name, send_resolved (default true), an optional
// rate_limit and exactly one integration key, whose factory in the registry
// (registry.h) validates the rest and builds the Notifier.
//
// ReceiverConfig is a copyable value; its Notifier is shared so that the
// same parsed config can be handed to the outbox and kept by the caller, but
// only one outbox worker ever calls Send on it.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "notifiers/notifier.h"
#include "notifiers/registry.h"

namespace YAML {
class Node;
}

namespace linkwatch {
class Problems;
}

namespace linkwatch::notifiers {

struct ReceiverConfig {
  std::string name;
  bool send_resolved = true;
  std::string integration;  // the YAML key, e.g. "webhook"
  std::shared_ptr<Notifier> notifier;
  // The receiver's rate_limit ({per_second, burst}), else the integration's
  // default; none means unlimited.
  std::optional<RateLimit> rate_limit;
};

// Parses the `receivers:` list. Receiver keys: name, send_resolved (default
// true; also accepted inside the integration mapping, as Alertmanager users
// write it), rate_limit ({per_second, burst}), and exactly one integration
// key. Names must be unique. Problems are added with file:line:column (the
// positions are in `file`); a receiver with problems is left out.
std::vector<ReceiverConfig> ParseReceivers(
    const YAML::Node& receivers, const std::string& file, const std::string& base_dir,
    Problems& problems, const Clock& clock = SystemClock::Instance(),
    const NotifierRegistry& registry = NotifierRegistry::Builtin());

}  // namespace linkwatch::notifiers

namespace linkwatch::notifiers {

// The name of every receiver in the `receivers:` list, also of those that
// ParseReceivers leaves out for problems: routes check their receiver names
// against these, so a receiver that exists but is invalid (e.g. a missing
// {env:} secret) is reported once, at the receiver, and not again as an
// unknown receiver at every route that names it.
std::set<std::string> DeclaredReceiverNames(const YAML::Node& receivers);

}  // namespace linkwatch::notifiers
