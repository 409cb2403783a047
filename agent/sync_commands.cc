// The sync core's commands of the linkwatch binary (declared in app.h).
#include <cstdio>

#include "agent/app.h"
#include "agent/core/config.h"
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

int LakeVerifyCommand(const std::string& path, bool json, const std::string& source_path,
                      const std::string& config_path, const std::string& profile) {
  std::string lake = path;
  std::string source = source_path;
  if (path.empty() == config_path.empty() || config_path.empty() != profile.empty()) {
    std::fprintf(stderr,
                 "linkwatch lake verify: give either --path DIR or --config FILE --profile NAME\n");
    return 2;
  }
  if (!config_path.empty()) {
    Config config;
    try {
      config = LoadConfig(config_path);
    } catch (const InputError& e) {
      for (const auto& p : e.problems()) std::fprintf(stderr, "%s\n", p.ToString().c_str());
      return 2;
    }
    const ProfileConfig* found = nullptr;
    for (const auto& p : config.profiles) {
      if (p.name == profile) found = &p;
    }
    if (found == nullptr || found->destination_type != "lake") {
      std::fprintf(stderr, "linkwatch lake verify: %s in %s\n",
                   found == nullptr ? ("no profile \"" + profile + "\"").c_str()
                                    : ("profile " + profile + " has no lake destination").c_str(),
                   config_path.c_str());
      return 2;
    }
    lake = found->destination_path;
    if (source.empty() && found->source_type == "sqlite") source = found->source_path;
  }
  sync::LakeVerifyOptions options;
  options.source_path = source;
  // Without a source, versions are all the report needs (a lake of millions
  // of rows); with one, every value is compared.
  options.keep_fields = !source.empty();
  auto report = sync::VerifyLake(lake, options);
  if (!report) {
    std::fprintf(stderr, "linkwatch lake verify: %s\n", report.message().c_str());
    return 2;
  }
  const std::string out = json ? sync::LakeReportJson(*report) : sync::LakeReportText(*report);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return report->ok() ? 0 : 1;
}

}  // namespace linkwatch
