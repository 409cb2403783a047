// libFuzzer target for config files: ParseConfig must either return a Config
// or throw InputError listing problems, never crash or throw anything else.
// With the builtin registries, so that every type's factory (which validates
// its own block) is fuzzed too.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/core/config.h"
#include "agent/sync/destination_registry.h"
#include "agent/sync/source_registry.h"
#include "agent/watch/state_source_registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    static const linkwatch::ConfigTypes kTypes{&linkwatch::sync::SourceRegistry::Builtin(),
                                               &linkwatch::sync::DestinationRegistry::Builtin(),
                                               &linkwatch::watch::StateSourceRegistry::Builtin()};
    linkwatch::Config c = linkwatch::ParseConfig(text, "/nonexistent/linkwatch.yaml", kTypes);
    (void)c;
  } catch (const linkwatch::InputError&) {
  }
  return 0;
}
