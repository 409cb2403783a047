// The `sqlite` destination type (destination_registry.cc): a SQLite
// warehouse at `path` (data-export-service.md in the spec). Its block is
// validated now; the sync core does not write it yet, so the registry marks
// the type as not running (`run` refuses it with a clear message) and its
// opener fails.
#include <yaml-cpp/yaml.h>

#include "agent/sync/destination_registry.h"

namespace linkwatch::sync {

DestinationOpener MakeSqliteDestination(const YAML::Node& spec, const BlockContext& ctx) {
  if (!ctx.CheckKeys(spec, {}) || !ctx.NeedsPath(spec)) return {};
  return []() -> Result<std::shared_ptr<Destination>> {
    return Status::Error(
        "destination type sqlite is not supported by this linkwatch yet (use lake)");
  };
}

}  // namespace linkwatch::sync
