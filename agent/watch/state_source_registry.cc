#include "agent/watch/state_source_registry.h"

#include <yaml-cpp/yaml.h>

namespace linkwatch::watch {

// The built-in watch sources: YAML type, the factory defined in
// <type>_source.cc, and whether this version polls it (false: validated,
// refused by `run`).
#define LINKWATCH_WATCH_SOURCES(X)  \
  X("local", MakeLocalSource, true) \
  X("dataverse", MakeDataverseStateSource, true)

#define LINKWATCH_DECLARE_FACTORY(type, fn, runs) StateSourceFactoryFn fn;
LINKWATCH_WATCH_SOURCES(LINKWATCH_DECLARE_FACTORY)
#undef LINKWATCH_DECLARE_FACTORY

const StateSourceRegistry& StateSourceRegistry::Builtin() {
  static const StateSourceRegistry registry = [] {
    StateSourceRegistry r;
#define LINKWATCH_REGISTER_FACTORY(type, fn, runs) r.Register(type, &fn, runs);
    LINKWATCH_WATCH_SOURCES(LINKWATCH_REGISTER_FACTORY)
#undef LINKWATCH_REGISTER_FACTORY
    return r;
  }();
  return registry;
}

Result<std::vector<std::unique_ptr<StateSource>>> StateSourceRegistry::BuildAll(
    const Config& config) const {
  std::vector<std::unique_ptr<StateSource>> out;
  for (const auto& s : config.watch.sources) {
    if (Has(s.type) && !Runs(s.type)) {
      return Status::Error("watch source " + s.name + ": type " + s.type +
                           " is not supported by this version yet");
    }
    Problems problems(config.path);
    auto built = Build(s.type, s.spec,
                       BlockContext{"watch source", s.name, s.path, config.dir, config.state_db,
                                    problems, WatchSourceBlockKeys()});
    if (!built) return built.status();
    out.push_back(std::move(built).value());
  }
  return out;
}

}  // namespace linkwatch::watch
