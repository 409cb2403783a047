#include "agent/core/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <functional>

namespace linkwatch {
namespace {

// Registries shaped like the binary's (sync/ and watch/ register the real
// ones), built on this layer's seam alone: a factory per type that checks
// its keys, and a path where the type needs one.
struct TestTypes {
  using Factory = std::function<bool(const YAML::Node&, const BlockContext&)>;
  TypeRegistry<Factory> sources, destinations, watch_sources;
  TestTypes() {
    auto with_path = [](const YAML::Node& spec, const BlockContext& ctx) {
      return ctx.CheckKeys(spec, {}) && ctx.NeedsPath(spec);
    };
    auto keys_only = [](const YAML::Node& spec, const BlockContext& ctx) {
      return ctx.CheckKeys(spec, {});
    };
    sources.Register("sqlite", with_path);
    sources.Register("dataverse", keys_only, /*runs=*/false);
    destinations.Register("lake", with_path);
    watch_sources.Register("local", keys_only);
    watch_sources.Register("dataverse", keys_only, /*runs=*/false);
  }
  ConfigTypes types() const { return {&sources, &destinations, &watch_sources}; }
};

std::vector<std::string> ProblemsOf(const std::string& text, const ConfigTypes& types = {}) {
  try {
    ParseConfig(text, "/etc/lw/linkwatch.yaml", types);
  } catch (const InputError& e) {
    std::vector<std::string> out;
    for (const auto& p : e.problems()) out.push_back(p.ToString());
    return out;
  }
  return {};
}

TEST(ConfigTest, MinimalConfigGetsDefaults) {
  Config c = ParseConfig("state_db: state.db\n", "/etc/lw/linkwatch.yaml");
  EXPECT_EQ(c.state_db, "/etc/lw/state.db");
  EXPECT_EQ(c.http.listen, "127.0.0.1:9464");
  EXPECT_EQ(c.watch.interval, Millis(15000));
  ASSERT_EQ(c.watch.sources.size(), 1u);
  EXPECT_EQ(c.watch.sources[0].name, "local");
  EXPECT_EQ(c.watch.sources[0].path, "/etc/lw/state.db");
}

// Issue 7 point 12: check-config passed what the server refused at start.
TEST(ConfigTest, ListenAddressIsCheckedAsTheServerChecksIt) {
  auto bad_port = ProblemsOf("state_db: s.db\nhttp:\n  listen: \"127.0.0.1:abc\"\n");
  ASSERT_EQ(bad_port.size(), 1u);
  EXPECT_NE(bad_port[0].find("linkwatch.yaml:3:11: "), std::string::npos) << bad_port[0];
  EXPECT_NE(bad_port[0].find("port must be 0-65535"), std::string::npos) << bad_port[0];
  auto out_of_range = ProblemsOf("state_db: s.db\nhttp: {listen: \"999.1.1.1:99999\"}\n");
  ASSERT_EQ(out_of_range.size(), 1u);
  EXPECT_NE(out_of_range[0].find("port must be 0-65535"), std::string::npos);
  auto bad_host = ProblemsOf("state_db: s.db\nhttp: {listen: \"999.1.1.1:9464\"}\n");
  ASSERT_EQ(bad_host.size(), 1u);
  EXPECT_NE(bad_host[0].find("not a valid IPv4 address"), std::string::npos) << bad_host[0];
  EXPECT_TRUE(ProblemsOf("state_db: s.db\nhttp: {listen: \"[::1]:0\"}\n").empty());
  EXPECT_TRUE(ProblemsOf("state_db: s.db\nhttp: {listen: \"localhost:9464\"}\n").empty());
  EXPECT_TRUE(ProblemsOf("state_db: s.db\nhttp: {listen: \"0.0.0.0:1\"}\n").empty());
}

TEST(ConfigTest, ParsesProfilesWithShorthandTables) {
  Config c = ParseConfig(R"(state_db: s.db
profiles:
  - name: crm
    source: {type: sqlite, path: crm.db}
    destination: {type: lake, path: lake}
    sync_interval: 2s
    tables:
      - {name: account, append_only: true, partition: month}
      - contact
)",
                         "/x/c.yaml");
  ASSERT_EQ(c.profiles.size(), 1u);
  const auto& p = c.profiles[0];
  EXPECT_EQ(p.source_path, "/x/crm.db");
  EXPECT_EQ(p.sync_interval, Millis(2000));
  ASSERT_EQ(p.tables.size(), 2u);
  EXPECT_TRUE(p.tables[0].append_only);
  EXPECT_EQ(p.tables[0].partition, "year");  // append_only forces year
  EXPECT_EQ(p.tables[1].name, "contact");
}

TEST(ConfigTest, UnknownKeyIsReportedWithPositionAndSuggestion) {
  auto problems = ProblemsOf("state_db: s.db\nwatch:\n  intervall: 5s\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "/etc/lw/linkwatch.yaml:3:3: unknown key \"intervall\" in watch (did you mean "
            "\"interval\"?)");
}

TEST(ConfigTest, BadDurationIsReportedAtTheValue) {
  auto problems = ProblemsOf("state_db: s.db\nwatch: {interval: 5 minutes}\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].rfind("/etc/lw/linkwatch.yaml:2:19: watch.interval: invalid duration", 0),
            0u)
      << problems[0];
}

TEST(ConfigTest, ProfileIntervalsAndSnapshotCountsMustBeUsable) {
  auto problems = ProblemsOf(R"(state_db: s.db
profiles:
  - name: crm
    source: {type: sqlite, path: crm.db}
    destination: {type: lake, path: lake}
    sync_interval: 0s
    snapshot_interval: 500ms
    snapshots_to_keep: 0
    tables: [account]
)");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find(":6:20: sync_interval must be at least 100ms"), std::string::npos)
      << problems[0];
  EXPECT_NE(problems[1].find(":7:24: snapshot_interval must be at least 1s"), std::string::npos)
      << problems[1];
  EXPECT_NE(problems[2].find(":8:24: snapshots_to_keep must be between 1 and 100"),
            std::string::npos)
      << problems[2];
}

TEST(ConfigTest, TwoProfilesCannotShareALake) {
  auto problems = ProblemsOf(R"(state_db: s.db
profiles:
  - {name: a, source: {type: sqlite, path: a.db}, destination: {type: lake, path: lake}, tables: [t]}
  - {name: b, source: {type: sqlite, path: b.db}, destination: {type: lake, path: ./lake}, tables: [t]}
)");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("is already the destination of another profile"), std::string::npos)
      << problems[0];
}

// Issue 8 point 11b: one lake written as `lake` and `lake/`, or reached
// through a symlink, was taken for two destinations.
TEST(ConfigTest, DestinationsAreComparedWhereTheyReallyLead) {
  auto trailing = ProblemsOf(R"(state_db: s.db
profiles:
  - {name: a, source: {type: sqlite, path: a.db}, destination: {type: lake, path: lake}, tables: [t]}
  - {name: b, source: {type: sqlite, path: b.db}, destination: {type: lake, path: lake/}, tables: [t]}
)");
  ASSERT_EQ(trailing.size(), 1u);
  EXPECT_NE(trailing[0].find("profile b: destination /etc/lw/lake is already the destination of "
                             "another profile, a"),
            std::string::npos)
      << trailing[0];

  char tmpl[] = "/tmp/lw_config_test_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir(tmpl);
  std::filesystem::create_directory(dir / "real-lake");
  std::filesystem::create_directory_symlink(dir / "real-lake", dir / "link");
  const std::string config = (dir / "linkwatch.yaml").string();
  auto problems = [&](const std::string& a, const std::string& b) {
    try {
      ParseConfig(
          "state_db: s.db\nprofiles:\n"
          "  - {name: a, source: {type: sqlite, path: a.db}, destination: {type: lake, "
          "path: " +
              a +
              "}, tables: [t]}\n"
              "  - {name: b, source: {type: sqlite, path: b.db}, destination: {type: lake, "
              "path: " +
              b + "}, tables: [t]}\n",
          config);
    } catch (const InputError& e) {
      std::vector<std::string> out;
      for (const auto& p : e.problems()) out.push_back(p.ToString());
      return out;
    }
    return std::vector<std::string>{};
  };
  auto symlinked = problems("real-lake", "link");
  ASSERT_EQ(symlinked.size(), 1u);
  EXPECT_NE(symlinked[0].find("profile b: destination " + (dir / "link").string() + " (" +
                              (dir / "real-lake").string() +
                              ") is already the destination of another profile, a"),
            std::string::npos)
      << symlinked[0];
  // Through a symlinked parent folder, with a trailing slash.
  EXPECT_EQ(problems("real-lake/x", "link/x/").size(), 1u);
  // One lake inside the other: its model.json would list a stranger's folder.
  auto nested = problems("real-lake", "link/sub");
  ASSERT_EQ(nested.size(), 1u);
  EXPECT_NE(nested[0].find("lies inside the destination of profile a"), std::string::npos)
      << nested[0];
  EXPECT_EQ(problems("link/sub", "real-lake").size(), 1u);
  // Siblings sharing a prefix are different folders.
  EXPECT_TRUE(problems("real-lake", "real-lake2").empty());
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, PathsLoseTheirTrailingSeparator) {
  EXPECT_EQ(ResolvePath("/etc/lw", "lake/"), "/etc/lw/lake");
  EXPECT_EQ(ResolvePath("/etc/lw", "./lake//"), "/etc/lw/lake");
  EXPECT_EQ(ResolvePath("/etc/lw", "/"), "/");
  EXPECT_EQ(ResolvePath("/etc/lw", "/data/lake/"), "/data/lake");
}

// Issue 8 point 11a: a table name becomes a lake folder and a CSV name.
TEST(ConfigTest, TableNamesAreWhatALakeFolderAndSqliteBothCarry) {
  for (const char* good : {"account", "new_thing", "_x", "Contact2", "a"}) {
    EXPECT_TRUE(IsTableName(good)) << good;
  }
  for (const char* bad : {"", "../evil", ".hidden", "a/b", "a\\b", "..", "2fast", "my table", "a.b",
                          "a-b", "a\"b", "a,b", "caf\xc3\xa9"}) {
    EXPECT_FALSE(IsTableName(bad)) << bad;
  }
  EXPECT_TRUE(IsTableName(std::string(kMaxTableNameLength, 'a')));
  EXPECT_FALSE(IsTableName(std::string(kMaxTableNameLength + 1, 'a')));
  auto problems = ProblemsOf(R"(state_db: s.db
profiles:
  - name: a
    source: {type: sqlite, path: a.db}
    destination: {type: lake, path: lake}
    tables: [ok, ../evil, {name: .hidden}]
)");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find(":6:18: profile a: table name \"../evil\" is not allowed"),
            std::string::npos)
      << problems[0];
  EXPECT_NE(problems[1].find("table name \".hidden\" is not allowed"), std::string::npos)
      << problems[1];
}

TEST(ConfigTest, EveryProblemIsListed) {
  auto problems = ProblemsOf(R"(http: {listen: nohostport}
watch:
  sources:
    - {name: a, type: ftp}
profiles:
  - name: "bad name"
    source: {type: sqlite}
    destination: {type: lake, path: l}
    tables: []
)",
                             TestTypes().types());
  // state_db missing, listen, source type, profile name, source path, tables
  EXPECT_EQ(problems.size(), 6u);
}

TEST(ConfigTest, TypedBlocksAreValidatedByTheirTypesFactory) {
  const TestTypes registries;
  auto problems = ProblemsOf(R"(state_db: s.db
watch:
  sources:
    - {name: w, type: local, colour: red}
    - {name: x, type: ftp}
profiles:
  - name: crm
    source: {type: sqlite, patth: crm.db}
    destination: {type: warehouse, path: l}
    tables: [t]
)",
                             registries.types());
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_EQ(problems[0],
            "/etc/lw/linkwatch.yaml:8:28: unknown key \"patth\" in source (did you mean "
            "\"path\"?)");
  EXPECT_EQ(problems[1], "/etc/lw/linkwatch.yaml:8:13: source needs a path");
  EXPECT_EQ(problems[2],
            "/etc/lw/linkwatch.yaml:9:25: unknown destination type \"warehouse\" (one of: lake)");
  EXPECT_EQ(
      problems[3].rfind("/etc/lw/linkwatch.yaml:4:30: unknown key \"colour\" in watch source", 0),
      0u)
      << problems[3];
  EXPECT_EQ(problems[4],
            "/etc/lw/linkwatch.yaml:5:23: unknown watch source type \"ftp\" (local or dataverse)");
  // Without registries (this layer alone) every type passes unchecked.
  EXPECT_TRUE(ProblemsOf("state_db: s.db\nwatch: {sources: [{name: x, type: ftp}]}\n").empty());
}

TEST(ConfigTest, MissingSecretEnvIsAProblem) {
  ::unsetenv("LW_TEST_UNSET");
  auto problems = ProblemsOf("state_db: s.db\nhttp: {api_token: {env: LW_TEST_UNSET}}\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("LW_TEST_UNSET is not set"), std::string::npos);
  ::setenv("LW_TEST_SET", "s3cret", 1);
  Config c = ParseConfig("state_db: s.db\nhttp: {api_token: {env: LW_TEST_SET}}\n", "/c.yaml");
  EXPECT_EQ(c.http.api_token.Reveal(), "s3cret");
  EXPECT_EQ(c.http.api_token.Describe().find("s3cret"), std::string::npos);
}

TEST(ConfigTest, MissingRuleFileIsAProblem) {
  auto problems = ProblemsOf("state_db: s.db\nwatch: {rule_files: [nope.yaml, 'r/*.yaml']}\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("nope.yaml does not exist"), std::string::npos);
}

// Issue 7 point 17: a repeated key is an error at the repeat, as in
// Prometheus, at any depth (yaml-cpp itself keeps both entries).
TEST(ConfigTest, DuplicateKeysAreErrorsAtTheSecondOccurrence) {
  EXPECT_EQ(ProblemsOf("state_db: a.db\nstate_db: b.db\n"),
            std::vector<std::string>{"/etc/lw/linkwatch.yaml:2:1: duplicate key \"state_db\" "
                                     "(first at line 1, column 1)"});
  EXPECT_EQ(ProblemsOf("state_db: s.db\nwatch:\n  interval: 5s\n  sources: []\n"
                       "  interval: 10s\n"),
            std::vector<std::string>{"/etc/lw/linkwatch.yaml:5:3: duplicate key \"interval\" "
                                     "(first at line 3, column 3)"});
  EXPECT_EQ(ProblemsOf("state_db: s.db\nreceivers:\n  - {name: a, log: {}, name: b}\n"),
            std::vector<std::string>{"/etc/lw/linkwatch.yaml:3:24: duplicate key \"name\" "
                                     "(first at line 3, column 6)"});
  // An alias repeats a node, not a key.
  EXPECT_TRUE(ProblemsOf("state_db: s.db\nwatch: &w {interval: 5s}\n").empty());
}

}  // namespace
}  // namespace linkwatch
