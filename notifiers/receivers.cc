#include "notifiers/receivers.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"

namespace linkwatch::notifiers {
namespace {

const std::vector<std::string>& ReceiverKeys() {
  static const std::vector<std::string> kKeys{"name", "send_resolved", "rate_limit"};
  return kKeys;
}

std::optional<RateLimit> ParseRateLimit(const YAML::Node& node, Problems& problems,
                                        const std::string& what) {
  if (!CheckKeys(node, {"per_second", "burst"}, problems, what)) return std::nullopt;
  RateLimit limit;
  bool ok = true;
  if (!node["per_second"]) {
    problems.Add(node, what + ": per_second is required");
    return std::nullopt;
  }
  double per_second = 0;
  if (!YAML::convert<double>::decode(node["per_second"], per_second) || !(per_second > 0)) {
    problems.Add(node["per_second"], what + ": per_second must be a number above 0");
    ok = false;
  }
  limit.per_second = per_second;
  limit.burst = std::max(1.0, per_second);
  if (node["burst"]) {
    auto burst = GetInt(node["burst"], problems, what + " burst");
    if (burst && *burst < 1) {
      problems.Add(node["burst"], what + ": burst must be at least 1");
      ok = false;
    } else if (burst) {
      limit.burst = static_cast<double>(*burst);
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return limit;
}

}  // namespace

std::vector<ReceiverConfig> ParseReceivers(const YAML::Node& receivers, const std::string& file,
                                           const std::string& base_dir, Problems& problems,
                                           const Clock& clock, const NotifierRegistry& registry) {
  std::vector<ReceiverConfig> out;
  if (!receivers || receivers.IsNull()) return out;
  Problems local(file);
  if (!receivers.IsSequence()) {
    local.Add(receivers, "receivers must be a list");
    problems.Append(local.list());
    return out;
  }
  std::vector<std::string> known = ReceiverKeys();
  for (const auto& k : registry.Keys()) known.push_back(k);
  std::set<std::string> names;
  for (const auto& r : receivers) {
    const size_t before = local.list().size();
    if (!CheckKeys(r, known, local, "receiver")) continue;
    ReceiverConfig rc;
    if (!r["name"]) {
      local.Add(r, "receiver without a name");
    } else if (auto name = GetString(r["name"], local, "receiver name")) {
      rc.name = *name;
      if (rc.name.empty()) {
        local.Add(r["name"], "receiver name must not be empty");
      } else if (!names.insert(rc.name).second) {
        local.Add(r["name"], "duplicate receiver name \"" + rc.name + "\"");
      }
    }
    const std::string what = "receiver \"" + rc.name + "\"";
    if (r["send_resolved"]) {
      if (auto b = GetBool(r["send_resolved"], local, what + " send_resolved")) {
        rc.send_resolved = *b;
      }
    }
    std::optional<RateLimit> rate_limit;
    if (r["rate_limit"]) rate_limit = ParseRateLimit(r["rate_limit"], local, what + " rate_limit");

    std::vector<std::pair<std::string, YAML::Node>> integrations;
    for (const auto& kv : r) {
      const std::string key = kv.first.Scalar();
      if (registry.Find(key) != nullptr) integrations.emplace_back(key, kv.second);
    }
    if (integrations.empty()) {
      // An unknown key (a misspelt or not yet supported integration) was
      // already reported with a suggestion.
      if (local.list().size() != before) continue;
      std::string keys;
      for (const auto& k : registry.Keys()) keys += (keys.empty() ? "" : ", ") + k;
      local.Add(r, what + " needs one integration key (" + keys + ")");
      continue;
    }
    if (integrations.size() > 1) {
      local.Add(r, what + " has more than one integration (" + integrations[0].first + ", " +
                       integrations[1].first + "); use one receiver per integration");
      continue;
    }
    const auto& [key, spec] = integrations.front();
    rc.integration = key;
    if (spec.IsMap() && spec["send_resolved"]) {
      if (auto b = GetBool(spec["send_resolved"], local, what + " send_resolved")) {
        if (r["send_resolved"] && *b != rc.send_resolved) {
          local.Add(spec["send_resolved"],
                    what + ": send_resolved is set twice with different values");
        }
        rc.send_resolved = *b;
      }
    }
    ReceiverContext ctx{rc.name, base_dir, local, clock};
    rc.notifier = std::shared_ptr<Notifier>((*registry.Find(key))(spec, ctx));
    if (local.list().size() != before || rc.notifier == nullptr) {
      if (local.list().size() == before) local.Add(spec, what + ": invalid " + key + " settings");
      continue;
    }
    rc.rate_limit = rate_limit ? rate_limit : rc.notifier->DefaultRateLimit();
    out.push_back(std::move(rc));
  }
  problems.Append(local.list());
  return out;
}

}  // namespace linkwatch::notifiers

namespace linkwatch::notifiers {

std::set<std::string> DeclaredReceiverNames(const YAML::Node& receivers) {
  std::set<std::string> names;
  if (!receivers || !receivers.IsSequence()) return names;
  for (const auto& r : receivers) {
    if (r.IsMap() && r["name"] && r["name"].IsScalar() && !r["name"].Scalar().empty()) {
      names.insert(r["name"].Scalar());
    }
  }
  return names;
}

}  // namespace linkwatch::notifiers
