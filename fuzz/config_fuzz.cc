// libFuzzer target for config files: ParseConfig must either return a Config
// or throw InputError listing problems, never crash or throw anything else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    linkwatch::Config c = linkwatch::ParseConfig(text, "/nonexistent/linkwatch.yaml");
    (void)c;
  } catch (const linkwatch::InputError&) {
  }
  return 0;
}
