#include "agent/net/entra_settings.h"

#include <yaml-cpp/yaml.h>

#include "agent/core/problem.h"
#include "agent/core/secret.h"
#include "agent/core/yaml_util.h"

namespace linkwatch::net {

const std::vector<std::string>& EntraKeys() {
  static const std::vector<std::string> keys{"tenant_id", "client_id", "client_secret",
                                             "authority"};
  return keys;
}

bool IsHttpUrl(const std::string& url) {
  return url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
}

bool ReadEntraSettings(const YAML::Node& spec, const std::string& what, const std::string& base_dir,
                       Problems& problems, EntraSettings& out) {
  const size_t before = problems.list().size();
  for (const char* key : {"tenant_id", "client_id", "client_secret"}) {
    if (!spec[key]) problems.Add(spec, what + " needs " + key);
  }
  if (spec["tenant_id"]) {
    if (auto v = GetString(spec["tenant_id"], problems, "tenant_id")) out.tenant_id = *v;
  }
  if (spec["client_id"]) {
    if (auto v = GetString(spec["client_id"], problems, "client_id")) out.client_id = *v;
  }
  if (spec["client_secret"]) {
    out.client_secret =
        Secret::FromYaml(spec["client_secret"], base_dir, problems, "client_secret");
  }
  if (spec["authority"]) {
    if (auto v = GetString(spec["authority"], problems, "authority")) {
      if (IsHttpUrl(*v)) {
        out.authority = *v;
      } else {
        problems.Add(spec["authority"], what +
                                            ": authority must be an http(s) URL, e.g. "
                                            "https://login.microsoftonline.com");
      }
    }
  }
  return problems.list().size() == before;
}

}  // namespace linkwatch::net
