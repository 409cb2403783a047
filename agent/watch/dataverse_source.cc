// The `dataverse` watch source type (state_source_registry.cc): a real
// Synapse Link's state tables read through the Dataverse Web API. Its block
// is validated now (the keys it needs, its client secret); it is not polled
// yet, so the registry marks the type as not running and `run` refuses it
// with a clear message.
#include <yaml-cpp/yaml.h>

#include "agent/core/secret.h"
#include "agent/core/yaml_util.h"
#include "agent/watch/state_source_registry.h"

namespace linkwatch::watch {

std::unique_ptr<StateSource> MakeDataverseStateSource(const YAML::Node& spec,
                                                      const BlockContext& ctx) {
  if (!ctx.CheckKeys(spec, {"url", "tenant_id", "client_id", "client_secret", "authority"})) {
    return nullptr;
  }
  for (const char* key : {"url", "tenant_id", "client_id", "authority"}) {
    if (spec[key]) (void)GetString(spec[key], ctx.problems, key);
  }
  for (const char* key : {"url", "tenant_id", "client_id", "client_secret"}) {
    if (!spec[key]) ctx.problems.Add(spec, "dataverse source " + ctx.name + " needs " + key);
  }
  if (spec["client_secret"]) {
    (void)Secret::FromYaml(spec["client_secret"], ctx.base_dir, ctx.problems, "client_secret");
  }
  return nullptr;  // not polled by this version
}

}  // namespace linkwatch::watch
