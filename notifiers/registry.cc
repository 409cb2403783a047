#include "notifiers/registry.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "agent/core/problem.h"
#include "agent/core/text.h"
#include "agent/core/yaml_util.h"

namespace linkwatch::notifiers {

// The built-in integrations: YAML key and the factory defined in
// notifiers/<key>.cc. One line per integration.
#define LINKWATCH_INTEGRATIONS(X)             \
  X("webhook", MakeWebhookNotifier)           \
  X("file", MakeFileNotifier)                 \
  X("log", MakeLogNotifier)                   \
  X("alertmanager", MakeAlertmanagerNotifier) \
  X("teams", MakeTeamsNotifier)               \
  X("email", MakeEmailNotifier)               \
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

Secret ReceiverContext::HttpUrl(const YAML::Node& spec, std::string_view integration,
                                std::string_view example, const std::string& key) const {
  const std::string what = What(integration);
  if (!spec[key]) {
    problems.Add(spec, what + ": " + key + " is required" +
                           (example.empty() ? "" : " (" + std::string(example) + ")"));
    return {};
  }
  Secret url = Secret::FromYaml(spec[key], base_dir, problems, what + " " + key);
  const std::string& u = url.Reveal();
  if (!url.empty() && u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
    // Never print the value: it may be a secret.
    problems.Add(spec[key], what + ": " + key + " must start with http:// or https://");
  }
  return url;
}

std::vector<std::pair<std::string, Secret>> ReceiverContext::Headers(
    const YAML::Node& spec, std::string_view integration,
    const std::vector<std::string>& reserved) const {
  std::vector<std::pair<std::string, Secret>> headers;
  const YAML::Node& h = spec["headers"];
  if (!h) return headers;
  const std::string what = What(integration);
  if (!h.IsMap()) {
    problems.Add(h, what + ": headers must be a mapping of header name to value");
    return headers;
  }
  for (const auto& kv : h) {
    const std::string name = kv.first.Scalar();
    // RFC 5322 / RFC 9110 field names: printable ASCII without ':' or space.
    const bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
      const auto c = static_cast<unsigned char>(ch);
      return c > 0x20 && c < 0x7f && c != ':';
    });
    if (!valid) {
      problems.Add(kv.first, what + ": invalid header name \"" + name + "\"");
      continue;
    }
    bool refused = false;
    for (const auto& r : reserved) {
      if (EqualsIgnoreCase(name, r)) {
        problems.Add(kv.first, what + ": header " + r + " is written by linkwatch");
        refused = true;
      }
    }
    if (refused) continue;
    Secret value = Secret::FromYaml(kv.second, base_dir, problems, what + " header " + name);
    if (value.Reveal().find_first_of("\r\n") != std::string::npos) {
      problems.Add(kv.second, what + ": header " + name + " must not contain a line break");
    }
    headers.emplace_back(name, std::move(value));
  }
  return headers;
}

Millis ReceiverContext::PositiveDuration(const YAML::Node& spec, const char* key,
                                         std::string_view integration, Millis fallback) const {
  if (!spec[key]) return fallback;
  const std::string what = What(integration);
  auto d = GetDuration(spec[key], problems, what + " " + key);
  if (!d) return fallback;
  if (d->count() <= 0) {
    problems.Add(spec[key], what + ": " + key + " must be above 0");
    return fallback;
  }
  return *d;
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
