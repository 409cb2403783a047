// The sync core's commands of the linkwatch binary (declared in app.h).
#include <cstdio>

#include "agent/app.h"
#include "agent/sync/destinations/lake_location.h"
#include "agent/sync/destinations/lake_verify.h"
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

int LakeVerifyCommand(const std::string& path, bool json, const std::string& source_path) {
  sync::LakeVerifyOptions options;
  options.source_path = source_path;
  options.keep_fields = false;  // versions are all the report needs
  auto report = sync::VerifyLake(path, options);
  if (!report) {
    std::fprintf(stderr, "linkwatch lake verify: %s\n", report.message().c_str());
    return 2;
  }
  const std::string out = json ? sync::LakeReportJson(*report) : sync::LakeReportText(*report);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return report->ok() ? 0 : 1;
}

int LakeRelocateCommand(const std::string& path) {
  auto changes = sync::lake::RelocateLake(path);
  if (!changes) {
    std::fprintf(stderr, "linkwatch lake relocate: %s\n", changes.message().c_str());
    return 1;
  }
  for (const auto& c : *changes) {
    std::printf("%s %s: %s -> %s\n", c.entity.c_str(), c.partition.c_str(), c.from.c_str(),
                c.to.c_str());
  }
  if (changes->empty()) {
    std::printf("nothing to change: every location already points into %s\n", path.c_str());
  } else {
    std::printf("%zu location(s) rewritten in %s/model.json\n", changes->size(), path.c_str());
  }
  return 0;
}

}  // namespace linkwatch
