#include "agent/dataverse/settings.h"

#include <yaml-cpp/yaml.h>

#include "agent/core/problem.h"
#include "agent/core/secret.h"
#include "agent/core/yaml_util.h"

namespace linkwatch::dataverse {

const std::vector<std::string>& ConnectionKeys() {
  static const std::vector<std::string> keys{"url",           "tenant_id", "client_id",
                                             "client_secret", "authority", "page_size"};
  return keys;
}

std::optional<WebApiSettings> ReadConnection(const YAML::Node& spec, const BlockContext& ctx) {
  const size_t before = ctx.problems.list().size();
  WebApiSettings s;
  const auto url_of = [&](const char* key, std::string& out) {
    if (!spec[key]) return;
    auto v = GetString(spec[key], ctx.problems, key);
    if (!v) return;
    if (v->rfind("https://", 0) != 0 && v->rfind("http://", 0) != 0) {
      ctx.problems.Add(spec[key],
                       ctx.what + " " + ctx.name + ": " + key +
                           " must be an http(s) URL, e.g. https://contoso.crm.dynamics.com");
      return;
    }
    out = *v;
  };
  url_of("url", s.url);
  url_of("authority", s.entra.authority);
  if (spec["tenant_id"]) {
    if (auto v = GetString(spec["tenant_id"], ctx.problems, "tenant_id")) s.entra.tenant_id = *v;
  }
  if (spec["client_id"]) {
    if (auto v = GetString(spec["client_id"], ctx.problems, "client_id")) s.entra.client_id = *v;
  }
  if (spec["client_secret"]) {
    s.entra.client_secret =
        Secret::FromYaml(spec["client_secret"], ctx.base_dir, ctx.problems, "client_secret");
  }
  if (spec["page_size"]) {
    auto v = GetInt(spec["page_size"], ctx.problems, "page_size");
    if (v && (*v < 1 || *v > kMaxPageSize)) {
      ctx.problems.Add(spec["page_size"], ctx.what + " " + ctx.name + ": page_size must be 1 to " +
                                              std::to_string(kMaxPageSize));
    } else if (v) {
      s.page_size = static_cast<int>(*v);
    }
  }
  for (const char* key : {"url", "tenant_id", "client_id", "client_secret"}) {
    if (!spec[key]) ctx.problems.Add(spec, ctx.what + " " + ctx.name + " needs " + key);
  }
  if (ctx.problems.list().size() != before) return std::nullopt;
  return s;
}

}  // namespace linkwatch::dataverse
