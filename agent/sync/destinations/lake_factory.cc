// The `lake` destination type (destination_registry.cc): a
// Synapse-Link-style folder at `path` (lake.h).
#include <yaml-cpp/yaml.h>

#include "agent/sync/destination_registry.h"
#include "agent/sync/destinations/lake.h"

namespace linkwatch::sync {

DestinationOpener MakeLakeDestination(const YAML::Node& spec, const BlockContext& ctx) {
  if (!ctx.CheckKeys(spec, {}) || !ctx.NeedsPath(spec)) return {};
  return [path = ctx.path]() -> Result<std::shared_ptr<Destination>> {
    auto lake = LakeDestination::Open(path);
    if (!lake) return lake.status();
    return std::shared_ptr<Destination>(std::move(lake).value());
  };
}

}  // namespace linkwatch::sync
