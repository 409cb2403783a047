#include "notifiers/registry.h"

#include <yaml-cpp/yaml.h>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"

namespace linkwatch::notifiers {

// The built-in integrations: YAML key and the factory defined in
// notifiers/<key>.cc. One line per integration.
#define LINKWATCH_INTEGRATIONS(X)   \
  X("webhook", MakeWebhookNotifier) \
  X("file", MakeFileNotifier)       \
  X("log", MakeLogNotifier)         \
  X("sms", MakeSmsNotifier)

#define LINKWATCH_DECLARE_FACTORY(key, fn) NotifierFactoryFn fn;
LINKWATCH_INTEGRATIONS(LINKWATCH_DECLARE_FACTORY)
#undef LINKWATCH_DECLARE_FACTORY

namespace {

// Keys every integration mapping accepts; ParseReceivers reads them.
const std::vector<std::string>& CommonIntegrationKeys() {
  static const std::vector<std::string> kKeys{"send_resolved"};
  return kKeys;
}

}  // namespace

bool ReceiverContext::CheckKeys(const YAML::Node& spec, std::vector<std::string> known) const {
  if (spec.IsNull()) return true;
  for (const auto& k : CommonIntegrationKeys()) known.push_back(k);
  std::string what = "receiver \"" + name + "\"";
  return linkwatch::CheckKeys(spec, known, problems, what);
}

std::string ReceiverContext::What(std::string_view integration) const {
  return "receiver \"" + name + "\" " + std::string(integration);
}

const NotifierRegistry& NotifierRegistry::Builtin() {
  static const NotifierRegistry registry = [] {
    NotifierRegistry r;
#define LINKWATCH_REGISTER_FACTORY(key, fn) r.Register(key, &fn);
    LINKWATCH_INTEGRATIONS(LINKWATCH_REGISTER_FACTORY)
#undef LINKWATCH_REGISTER_FACTORY
    return r;
  }();
  return registry;
}

void NotifierRegistry::Register(std::string key, NotifierFactory factory) {
  factories_[std::move(key)] = std::move(factory);
}

const NotifierFactory* NotifierRegistry::Find(std::string_view key) const {
  auto it = factories_.find(key);
  return it == factories_.end() ? nullptr : &it->second;
}

std::vector<std::string> NotifierRegistry::Keys() const {
  std::vector<std::string> keys;
  for (const auto& [k, f] : factories_) keys.push_back(k);
  return keys;
}

}  // namespace linkwatch::notifiers
