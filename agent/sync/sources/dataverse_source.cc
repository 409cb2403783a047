// The `dataverse` source type (source_registry.cc): a Dataverse environment
// read through its Web API (dataverse-web-api.md in the spec). Its block is
// validated now; the sync core does not read Dataverse yet, so the registry
// marks the type as not running (`run` refuses it with a clear message) and
// its opener fails.
#include <yaml-cpp/yaml.h>

#include "agent/sync/source_registry.h"

namespace linkwatch::sync {

SourceOpener MakeDataverseSource(const YAML::Node& spec, const BlockContext& ctx) {
  if (!ctx.CheckKeys(
          spec, {"url", "tenant_id", "client_id", "client_secret", "authority", "webhook_key"})) {
    return {};
  }
  return []() -> Result<std::unique_ptr<Source>> {
    return Status::Error(
        "source type dataverse is not supported by this linkwatch's sync core yet (use sqlite)");
  };
}

}  // namespace linkwatch::sync
