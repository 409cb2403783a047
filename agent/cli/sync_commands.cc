// The sync core's commands of the linkwatch binary (declared in app.h).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "agent/cli/app.h"
#include "agent/core/config.h"
#include "agent/state/db.h"
#include "agent/sync/destinations/lake_location.h"
#include "agent/sync/destinations/lake_verify.h"
#include "agent/sync/source_registry.h"
#include "agent/sync/sources/sqlite_source.h"

namespace linkwatch {
namespace {

// The failed records (lake-format.md) the sync core listed for `profile` in
// its state store, per entity: absent from the lake by design. None when the
// store or its table is not there (a lake verified without its agent).
std::map<std::string, std::set<std::string>> FailedRecords(const std::string& state_db,
                                                           const std::string& profile) {
  std::map<std::string, std::set<std::string>> out;
  std::error_code ec;
  if (state_db.empty() || !std::filesystem::is_regular_file(state_db, ec)) return out;
  auto db = state::Db::Open(state_db, state::Db::Mode::kReadOnly);
  if (!db) return out;
  auto st =
      (*db)->Prepare("SELECT entity, id FROM linkwatch_sync_failed_record WHERE profile = ?1");
  if (!st) return out;  // an older store: no failed records kept
  st->Bind(1, profile);
  while (st->Step()) out[st->Text(0)].insert(st->Text(1));
  return out;
}

}  // namespace

int EnableChangeTrackingCommand(const std::string& db_path, const std::vector<std::string>& tables,
                                const std::string& journal_mode) {
  auto report = sync::InstallChangeTracking(db_path, tables, journal_mode);
  if (!report) {
    std::fprintf(stderr, "linkwatch source enable-change-tracking: %s\n", report.message().c_str());
    return 1;
  }
  for (const auto& t : tables) {
    const bool installed =
        std::find(report->installed.begin(), report->installed.end(), t) != report->installed.end();
    std::printf("change tracking on: %s%s\n", t.c_str(), installed ? " (triggers installed)" : "");
  }
  if (!report->journal_mode.empty()) {
    if (report->journal_mode == report->journal_mode_before) {
      std::printf("journal mode: %s (unchanged)\n", report->journal_mode.c_str());
    } else {
      std::printf("journal mode: %s (was %s)\n", report->journal_mode.c_str(),
                  report->journal_mode_before.c_str());
    }
  }
  return 0;
}

int LakeVerifyCommand(const std::string& path, bool json, const std::string& source_path,
                      const std::string& config_path, const std::string& profile) {
  std::string lake = path;
  std::map<std::string, std::set<std::string>> failed;
  std::string source = source_path;
  std::string source_type = sync::LakeVerifyOptions().source_type;  // what --source names
  std::optional<ProfileConfig> verify_profile;  // a source without a file (dataverse)
  if (path.empty() == config_path.empty() || config_path.empty() != profile.empty()) {
    std::fprintf(stderr,
                 "linkwatch lake verify: give either --path DIR or --config FILE --profile NAME\n");
    return 2;
  }
  if (!config_path.empty()) {
    Config config;
    try {
      config = LoadConfig(config_path, BuiltinConfigTypes());
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
    // The profile's source, when this version reads it from a file.
    std::optional<ProfileConfig> source_profile;
    if (source.empty() && sync::SourceRegistry::Builtin().Runs(found->source_type)) {
      if (!found->source_path.empty()) {
        source = found->source_path;
        source_type = found->source_type;
      } else {
        source_profile = *found;  // a dataverse environment: read through its block
      }
    }
    failed = FailedRecords(config.state_db, profile);
    verify_profile = std::move(source_profile);
  }
  sync::LakeVerifyOptions options;
  options.source_profile = verify_profile;
  options.failed_records = std::move(failed);
  options.source_type = source_type;
  options.source_path = source;
  // Without a source, versions are all the report needs (a lake of millions
  // of rows); with one, every value is compared.
  options.keep_fields = !source.empty() || options.source_profile.has_value();
  auto report = sync::VerifyLake(lake, options);
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
