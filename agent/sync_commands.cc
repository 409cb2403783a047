// The sync core's commands of the linkwatch binary (declared in app.h).
#include <cstdio>

#include "agent/app.h"
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
  // Without a source, versions are all the report needs (a lake of millions
  // of rows); with one, every value is compared.
  options.keep_fields = !source_path.empty();
  auto report = sync::VerifyLake(path, options);
  if (!report) {
    std::fprintf(stderr, "linkwatch lake verify: %s\n", report.message().c_str());
    return 2;
  }
  const std::string out = json ? sync::LakeReportJson(*report) : sync::LakeReportText(*report);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return report->ok() ? 0 : 1;
}

}  // namespace linkwatch
