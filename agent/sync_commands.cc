// The sync core's commands of the linkwatch binary (declared in app.h).
#include <cstdio>

#include "agent/app.h"
#include "agent/sync/sources/sqlite_source.h"

namespace linkwatch {

int EnableChangeTrackingCommand(const std::string& db_path,
                                const std::vector<std::string>& tables) {
  if (auto s = sync::EnableChangeTracking(db_path, tables); !s.ok()) {
    std::fprintf(stderr, "linkwatch source enable-change-tracking: %s\n", s.message().c_str());
    return 1;
  }
  for (const auto& t : tables) std::printf("change tracking on: %s\n", t.c_str());
  return 0;
}

}  // namespace linkwatch
