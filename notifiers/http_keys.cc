// The shared url and timeout keys of the HTTP integrations (http_keys.h).
#include "notifiers/http_keys.h"

#include <yaml-cpp/yaml.h>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "agent/net/http_client.h"
#include "notifiers/registry.h"

namespace linkwatch::notifiers {
namespace {

bool IsHttpUrl(const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

}  // namespace

Secret ParseHttpUrl(const YAML::Node& spec, const ReceiverContext& ctx, const std::string& what) {
  if (!spec["url"]) {
    ctx.problems.Add(spec, what + ": url is required");
    return {};
  }
  Secret url = Secret::FromYaml(spec["url"], ctx.base_dir, ctx.problems, what + " url");
  if (!url.empty() && !IsHttpUrl(url.Reveal())) {
    // Never print the value: it may be a secret.
    ctx.problems.Add(spec["url"], what + ": url must start with http:// or https://");
    return {};
  }
  return url;
}

Millis ParseHttpTimeout(const YAML::Node& spec, const ReceiverContext& ctx,
                        const std::string& what) {
  if (!spec["timeout"]) return net::kDefaultHttpTimeout;
  auto d = GetDuration(spec["timeout"], ctx.problems, what + " timeout");
  if (!d) return net::kDefaultHttpTimeout;
  if (d->count() <= 0) {
    ctx.problems.Add(spec["timeout"], what + ": timeout must be above 0");
    return net::kDefaultHttpTimeout;
  }
  return *d;
}

}  // namespace linkwatch::notifiers
