// linkwatch's command line: parses arguments and calls the command functions
// of app.h. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid input.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "agent/app.h"
#include "agent/core/logging.h"
#include "agent/demo.h"

int main(int argc, char** argv) {
  using namespace linkwatch;
  CLI::App app{"linkwatch: replicate change-tracked tables and watch Synapse Link state tables",
               "linkwatch"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(LINKWATCH_VERSION));
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->capture_default_str();

  std::string config_path;
  auto* run = app.add_subcommand("run", "run the agent until SIGINT/SIGTERM; SIGHUP reloads");
  run->add_option("--config", config_path, "config file")->required();

  DemoOptions demo_options;
  auto* demo = app.add_subcommand("demo", "run a self-contained demo in a folder");
  demo->add_option("--dir", demo_options.dir, "folder for the demo's files")->capture_default_str();
  demo->add_option("--listen", demo_options.listen, "HTTP address")->capture_default_str();
  demo->add_option("--duration", demo_options.duration_seconds,
                   "stop after this many seconds (default: until Ctrl-C)");

  auto* check = app.add_subcommand("check-config", "validate a config and everything it names");
  check->add_option("--config", config_path, "config file")->required();

  std::vector<std::string> rule_files;
  auto* rules = app.add_subcommand("rules", "rule files");
  rules->require_subcommand(1);
  auto* rules_check = rules->add_subcommand("check", "validate rule files");
  rules_check->add_option("files", rule_files, "rule files")->required();
  auto* rules_test = rules->add_subcommand("test", "run rule unit-test files");
  rules_test->add_option("files", rule_files, "rule-test files")->required();

  std::string profile;
  bool json = false;
  auto* status = app.add_subcommand("status", "print the monitor table of the state store");
  status->add_option("--config", config_path, "config file")->required();
  status->add_option("--profile", profile, "only this profile");
  status->add_flag("--json", json, "JSON output");

  std::string source_db;
  std::vector<std::string> source_tables;
  auto* source = app.add_subcommand("source", "sources of the sync core");
  source->require_subcommand(1);
  auto* enable_ct = source->add_subcommand("enable-change-tracking",
                                           "turn on change tracking for tables of a SQLite source");
  enable_ct->add_option("--db", source_db, "SQLite source file")->required();
  enable_ct->add_option("--table", source_tables, "table to track (repeatable)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (!SetupLogging(log_level)) {
    std::fprintf(stderr, "unknown --log-level %s\n", log_level.c_str());
    return 2;
  }

  if (*run || *demo) {
    static Controls controls;
    HandleSignals(controls);
    if (*demo) return RunDemo(demo_options, controls);
    RunOptions options;
    options.config_path = config_path;
    return RunAgent(options, controls);
  }
  if (*check) return CheckConfig(config_path);
  if (*rules_check) return RulesCheck(rule_files);
  if (*rules_test) return RulesTest(rule_files);
  if (*status) return PrintStatus(config_path, profile, json);
  if (*enable_ct) return EnableChangeTrackingCommand(source_db, source_tables);
  return 2;
}
