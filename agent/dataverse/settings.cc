#include "agent/dataverse/settings.h"

#include <yaml-cpp/yaml.h>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "agent/net/entra_settings.h"

namespace linkwatch::dataverse {

const std::vector<std::string>& ConnectionKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k{"url", "page_size"};
    for (const auto& e : net::EntraKeys()) k.push_back(e);
    return k;
  }();
  return keys;
}

std::optional<WebApiSettings> ReadConnection(const YAML::Node& spec, const BlockContext& ctx) {
  const size_t before = ctx.problems.list().size();
  const std::string what = ctx.what + " " + ctx.name;
  WebApiSettings s;
  if (!spec["url"]) {
    ctx.problems.Add(spec, what + " needs url");
  } else if (auto v = GetString(spec["url"], ctx.problems, "url")) {
    if (net::IsHttpUrl(*v)) {
      s.url = *v;
    } else {
      ctx.problems.Add(
          spec["url"],
          what + ": url must be an http(s) URL, e.g. https://contoso.crm.dynamics.com");
    }
  }
  net::ReadEntraSettings(spec, what, ctx.base_dir, ctx.problems, s.entra);
  if (spec["page_size"]) {
    auto v = GetInt(spec["page_size"], ctx.problems, "page_size");
    if (v && (*v < 1 || *v > kMaxPageSize)) {
      ctx.problems.Add(spec["page_size"],
                       what + ": page_size must be 1 to " + std::to_string(kMaxPageSize));
    } else if (v) {
      s.page_size = static_cast<int>(*v);
    }
  }
  if (ctx.problems.list().size() != before) return std::nullopt;
  return s;
}

}  // namespace linkwatch::dataverse
