// The builtin sync registries: which types they hold and run, and the
// problems each type's factory reports with file:line:column when the config
// is loaded with them (as check-config does).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/sync/destination_registry.h"
#include "agent/sync/source_registry.h"

namespace linkwatch::sync {
namespace {

std::vector<std::string> ProblemsOf(const std::string& profile) {
  const ConfigTypes types{&SourceRegistry::Builtin(), &DestinationRegistry::Builtin(), nullptr};
  try {
    ParseConfig("state_db: s.db\nprofiles:\n  - name: crm\n" + profile + "    tables: [t]\n",
                "/etc/lw/linkwatch.yaml", types);
  } catch (const InputError& e) {
    std::vector<std::string> out;
    for (const auto& p : e.problems()) out.push_back(p.ToString());
    return out;
  }
  return {};
}

TEST(SyncRegistryTest, ListsTheBuiltinTypesAndWhichRun) {
  const auto& sources = SourceRegistry::Builtin();
  EXPECT_EQ(sources.Types(), (std::vector<std::string>{"sqlite", "dataverse"}));
  EXPECT_TRUE(sources.Runs("sqlite"));
  EXPECT_TRUE(sources.Runs("dataverse"));
  const auto& destinations = DestinationRegistry::Builtin();
  EXPECT_EQ(destinations.Types(), (std::vector<std::string>{"lake", "sqlite"}));
  EXPECT_TRUE(destinations.Runs("lake"));
  EXPECT_FALSE(destinations.Runs("sqlite"));
}

TEST(SyncRegistryTest, AValidProfileHasNoProblems) {
  EXPECT_TRUE(ProblemsOf("    source: {type: sqlite, path: crm.db}\n"
                         "    destination: {type: lake, path: lake}\n")
                  .empty());
  // Dataverse needs no path; sqlite destinations are validated too.
  EXPECT_TRUE(ProblemsOf("    source: {type: dataverse, url: 'https://x', tenant_id: t, "
                         "client_id: c, client_secret: s, webhook_key: k}\n"
                         "    destination: {type: sqlite, path: w.db}\n")
                  .empty());
}

TEST(SyncRegistryTest, EachFactoryReportsItsProblemsAtTheirPosition) {
  EXPECT_EQ(ProblemsOf("    source: {type: sqlite}\n"
                       "    destination: {type: lake}\n"),
            (std::vector<std::string>{"/etc/lw/linkwatch.yaml:4:13: source needs a path",
                                      "/etc/lw/linkwatch.yaml:5:18: destination needs a path"}));
  EXPECT_EQ(
      ProblemsOf("    source: {type: sqlite, path: a.db, colour: red}\n"
                 "    destination: {type: lake, path: l}\n"),
      (std::vector<std::string>{"/etc/lw/linkwatch.yaml:4:40: unknown key \"colour\" in source"}));
  EXPECT_EQ(ProblemsOf("    source: {type: ftp, path: a}\n"
                       "    destination: {type: warehouse, path: l}\n"),
            (std::vector<std::string>{
                "/etc/lw/linkwatch.yaml:4:20: unknown source type \"ftp\" (one of: sqlite, "
                "dataverse)",
                "/etc/lw/linkwatch.yaml:5:25: unknown destination type \"warehouse\" (one of: "
                "lake, sqlite)"}));
}

TEST(SyncRegistryTest, OpenersOfTypesNotRunSaySo) {
  ProfileConfig profile;
  profile.name = "crm";
  profile.source_type = "dataverse";
  profile.destination_type = "sqlite";
  profile.destination_path = "/nonexistent/w.db";
  auto destination = DestinationRegistry::Builtin().Opener(profile);
  ASSERT_TRUE(destination.ok()) << destination.message();
  EXPECT_EQ((*destination)().message(),
            "destination type sqlite is not supported by this linkwatch yet (use lake)");
  profile.source_type = "sqlite";  // without a path
  EXPECT_EQ(SourceRegistry::Builtin().Opener(profile).message(),
            "source of crm: source needs a path");
}

}  // namespace
}  // namespace linkwatch::sync
