#include "agent/sync/destination_registry.h"

#include <yaml-cpp/yaml.h>

namespace linkwatch::sync {

// The built-in destinations: YAML type, the factory defined in
// destinations/<type>_*.cc, and whether this version runs it.
#define LINKWATCH_DESTINATIONS(X)      \
  X("lake", MakeLakeDestination, true) \
  X("sqlite", MakeSqliteDestination, false)

#define LINKWATCH_DECLARE_FACTORY(type, fn, runs) DestinationFactoryFn fn;
LINKWATCH_DESTINATIONS(LINKWATCH_DECLARE_FACTORY)
#undef LINKWATCH_DECLARE_FACTORY

const DestinationRegistry& DestinationRegistry::Builtin() {
  static const DestinationRegistry registry = [] {
    DestinationRegistry r;
#define LINKWATCH_REGISTER_FACTORY(type, fn, runs) r.Register(type, &fn, runs);
    LINKWATCH_DESTINATIONS(LINKWATCH_REGISTER_FACTORY)
#undef LINKWATCH_REGISTER_FACTORY
    return r;
  }();
  return registry;
}

Result<DestinationOpener> DestinationRegistry::Opener(const ProfileConfig& profile) const {
  Problems problems(profile.name);
  return Build(profile.destination_type, profile.destination,
               BlockContext{"destination", profile.name, profile.destination_path, "", "", problems,
                            EndpointBlockKeys()});
}

}  // namespace linkwatch::sync
