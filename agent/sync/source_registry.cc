#include "agent/sync/source_registry.h"

#include <yaml-cpp/yaml.h>

namespace linkwatch::sync {

// The built-in sources: YAML type, the factory defined in sources/<type>_*.cc,
// and whether this version runs it (false: validated, refused by `run`).
#define LINKWATCH_SOURCES(X)          \
  X("sqlite", MakeSqliteSource, true) \
  X("dataverse", MakeDataverseSource, true)

#define LINKWATCH_DECLARE_FACTORY(type, fn, runs) SourceFactoryFn fn;
LINKWATCH_SOURCES(LINKWATCH_DECLARE_FACTORY)
#undef LINKWATCH_DECLARE_FACTORY

const SourceRegistry& SourceRegistry::Builtin() {
  static const SourceRegistry registry = [] {
    SourceRegistry r;
#define LINKWATCH_REGISTER_FACTORY(type, fn, runs) r.Register(type, &fn, runs);
    LINKWATCH_SOURCES(LINKWATCH_REGISTER_FACTORY)
#undef LINKWATCH_REGISTER_FACTORY
    return r;
  }();
  return registry;
}

Result<SourceOpener> SourceRegistry::Opener(const ProfileConfig& profile) const {
  Problems problems(profile.name);
  return Build(profile.source_type, profile.source,
               BlockContext{"source", profile.name, profile.source_path, profile.base_dir, "",
                            problems, EndpointBlockKeys()});
}

}  // namespace linkwatch::sync
