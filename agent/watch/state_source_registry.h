// StateSourceRegistry: the watch sources keyed by the YAML `type` of a
// `watch.sources` entry, shaped like the sync registries
// (sync/source_registry.h): each type's factory lives in its own file
// (local_source.cc, dataverse_source.cc), validates its block with
// file:line:column problems and builds the StateSource; the registry lists
// them one line each in state_source_registry.cc. The config loader validates
// through it (ConfigTypes); the app builds the watcher's sources through it,
// and tests register fakes of their own.
//
// Built once; read-only and thread-safe to read afterwards.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/status.h"
#include "agent/core/typed_block.h"
#include "agent/watch/state_source.h"

namespace linkwatch::watch {

// Returns nullptr when the block has problems (in ctx.problems). Building
// does no I/O: a source reaches its data when polled.
using StateSourceFactoryFn = std::unique_ptr<StateSource>(const YAML::Node& spec,
                                                          const BlockContext& ctx);
using StateSourceFactory = std::function<StateSourceFactoryFn>;

class StateSourceRegistry : public TypeRegistry<StateSourceFactory> {
 public:
  // local; dataverse.
  static const StateSourceRegistry& Builtin();

  // The sources of `config` (validated when it was loaded), built in order;
  // an error when one cannot be (a type not registered here or not run).
  Result<std::vector<std::unique_ptr<StateSource>>> BuildAll(const Config& config) const;
};

}  // namespace linkwatch::watch
