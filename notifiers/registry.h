// The registry of integrations keyed by their YAML key (webhook, file, log;
// later teams, email, sms, alertmanager). Each integration lives in its own
// file (webhook.cc, file.cc, log.cc) and provides one factory that validates
// its own keys, resolves its secrets and builds its Notifier; registry.cc
// lists the factories, one line each. Adding an integration is one new file
// plus one line there. ParseReceivers (receivers.h) uses the registry.
//
// Loading runs on one thread; a built NotifierRegistry is read-only and
// thread-safe to read.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/secret.h"
#include "notifiers/notifier.h"

namespace YAML {
class Node;
}

namespace linkwatch {
class Problems;
}

namespace linkwatch::notifiers {

// What a factory gets besides its own YAML mapping.
struct ReceiverContext {
  std::string name;      // the receiver's name
  std::string base_dir;  // the config file's folder: relative paths resolve here
  Problems& problems;    // add every problem found (file:line:column from the node)
  const Clock& clock;

  // CheckKeys (agent/core/yaml_util.h) over `known` plus the keys every
  // integration mapping accepts (send_resolved, read by ParseReceivers).
  // A null node (`log:`) counts as an empty mapping.
  bool CheckKeys(const YAML::Node& spec, std::vector<std::string> known) const;
  // "receiver \"hooks\" webhook", for messages.
  std::string What(std::string_view integration) const;

  // Shared readers of keys several integrations have; each adds its
  // problems with file:line:column and never prints a secret's value.
  // `url` (or `key`; required, a secret): must start with http:// or
  // https://.
  Secret HttpUrl(const YAML::Node& spec, std::string_view integration,
                 std::string_view example = "", const std::string& key = "url") const;
  // `headers`: a map of header name to value (a secret); `reserved` names
  // are refused (set by the integration itself).
  std::vector<std::pair<std::string, Secret>> Headers(
      const YAML::Node& spec, std::string_view integration,
      const std::vector<std::string>& reserved = {}) const;
  // A duration key that must be above 0; `fallback` when absent or invalid.
  Millis PositiveDuration(const YAML::Node& spec, const char* key, std::string_view integration,
                          Millis fallback) const;
};

// Returns nullptr when the spec has problems (they are in ctx.problems).
using NotifierFactoryFn = std::unique_ptr<Notifier>(const YAML::Node& spec,
                                                    const ReceiverContext& ctx);
using NotifierFactory = std::function<NotifierFactoryFn>;

class NotifierRegistry {
 public:
  // webhook, file, log (and every integration added later).
  static const NotifierRegistry& Builtin();

  void Register(std::string key, NotifierFactory factory);
  const NotifierFactory* Find(std::string_view key) const;
  std::vector<std::string> Keys() const;

 private:
  std::map<std::string, NotifierFactory, std::less<>> factories_;
};

}  // namespace linkwatch::notifiers
