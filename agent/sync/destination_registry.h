// DestinationRegistry: the sync destinations keyed by the YAML `type` of a
// profile's `destination` block, shaped like SourceRegistry
// (source_registry.h): one factory per destination type in its own file under
// destinations/, listed one line each in destination_registry.cc. The engine
// opens destinations through it (EngineOptions::destinations), so tests can
// register a fake one or wrap the real one to inject faults.
//
// Built once; read-only and thread-safe to read afterwards.
#pragma once

#include <functional>
#include <memory>

#include "agent/core/config.h"
#include "agent/core/status.h"
#include "agent/core/typed_block.h"
#include "agent/sync/destination.h"

namespace linkwatch::sync {

// Opens the destination a validated block names; the engine opens one per
// profile and shares it between the profile's tables.
using DestinationOpener = std::function<Result<std::shared_ptr<Destination>>()>;
// Returns an empty opener when the block has problems (in ctx.problems).
using DestinationFactoryFn = DestinationOpener(const YAML::Node& spec, const BlockContext& ctx);
using DestinationFactory = std::function<DestinationFactoryFn>;

class DestinationRegistry : public TypeRegistry<DestinationFactory> {
 public:
  // lake; sqlite (validated, not yet run).
  static const DestinationRegistry& Builtin();

  // The opener of `profile`'s destination block; an error when its type is
  // not registered here.
  Result<DestinationOpener> Opener(const ProfileConfig& profile) const;
};

}  // namespace linkwatch::sync
