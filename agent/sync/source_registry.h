// SourceRegistry: the sync sources keyed by the YAML `type` of a profile's
// `source` block. Each source type lives in its own file under sources/ and
// provides one factory that validates its block (file:line:column problems
// through ctx.problems) and returns an opener; source_registry.cc lists the
// factories, one line each. Adding a source is one new file plus one line
// there. The config loader validates blocks through it (ConfigTypes); the
// engine opens sources through it (EngineOptions::sources), so tests can
// register a fake source of their own.
//
// Built once; read-only and thread-safe to read afterwards.
#pragma once

#include <functional>
#include <memory>

#include "agent/core/config.h"
#include "agent/core/status.h"
#include "agent/core/typed_block.h"
#include "agent/sync/source.h"

namespace linkwatch::sync {

// Opens the source a validated block names. Each sync worker opens its own
// (a Source is used by one thread at a time); safe to call from any thread.
// Fails with reason "source_missing" when nothing the source can be read
// from is where the block points (commands say "does not exist").
using SourceOpener = std::function<Result<std::unique_ptr<Source>>()>;
// Returns an empty opener when the block has problems (in ctx.problems).
using SourceFactoryFn = SourceOpener(const YAML::Node& spec, const BlockContext& ctx);
using SourceFactory = std::function<SourceFactoryFn>;

class SourceRegistry : public TypeRegistry<SourceFactory> {
 public:
  // sqlite, dataverse.
  static const SourceRegistry& Builtin();

  // The opener of `profile`'s source block (validated when the config was
  // loaded); an error when its type is not registered here.
  Result<SourceOpener> Opener(const ProfileConfig& profile) const;
};

}  // namespace linkwatch::sync
