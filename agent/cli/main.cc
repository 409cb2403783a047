// linkwatch's command line: parses arguments and calls the command functions
// of app.h. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid input.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "agent/cli/app.h"
#include "agent/cli/demo.h"
#include "agent/core/logging.h"

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
  std::string journal_mode;
  enable_ct->add_option("--journal-mode", journal_mode,
                        "also set the file's journal mode (wal, delete, truncate, persist); "
                        "without it the journal mode is left as it is");

  std::string lake_path, lake_source;
  auto* lake = app.add_subcommand("lake", "the data lake the sync core writes");
  lake->require_subcommand(1);
  auto* lake_verify = lake->add_subcommand(
      "verify", "read a lake folder as a consumer would and check it is consistent");
  lake_verify->add_option("--path", lake_path, "lake folder");
  lake_verify->add_option("--config", config_path,
                          "config file (with --profile: its lake and source)");
  lake_verify->add_option("--profile", profile, "profile of --config whose lake to verify");
  lake_verify->add_flag("--json", json, "JSON output");
  lake_verify->add_option("--source", lake_source,
                          "change-tracked SQLite source to compare each table with");
  std::string relocate_path;
  auto* lake_relocate = lake->add_subcommand(
      "relocate", "rewrite the partition locations of a moved lake folder's model.json");
  lake_relocate->add_option("--path", relocate_path, "the lake folder at its new place")
      ->required();

  // Lifecycle (contract.md section 2, "Who decides what is linked").
  auto* link = app.add_subcommand("link", "link a profile of the config: create its state rows");
  link->add_option("--config", config_path, "config file")->required();
  link->add_option("--profile", profile, "profile name")->required();
  bool delete_data = false, clear = false;
  std::string confirm;
  auto* unlink = app.add_subcommand("unlink", "stop a profile (profilestate Deleted)");
  unlink->add_option("--config", config_path, "config file")->required();
  unlink->add_option("--profile", profile, "profile name")->required();
  unlink->add_flag("--delete-data", delete_data, "also delete its lake folder");
  unlink->add_option("--confirm", confirm, "the profile name again, required by --delete-data");
  auto* relink = app.add_subcommand("relink", "link a Deleted profile again (same id)");
  relink->add_option("--config", config_path, "config file")->required();
  relink->add_option("--profile", profile, "profile name")->required();
  relink->add_flag("--clear", clear, "delete data of the earlier link and sync from scratch");
  std::vector<std::string> table_names;
  auto* tables = app.add_subcommand("tables", "manage a linked profile's tables");
  tables->require_subcommand(1);
  auto* tables_add = tables->add_subcommand("add", "add tables (each gets its initial sync)");
  auto* tables_remove = tables->add_subcommand("remove", "remove tables (their lake files stay)");
  for (auto* t : {tables_add, tables_remove}) {
    t->add_option("--config", config_path, "config file")->required();
    t->add_option("--profile", profile, "profile name")->required();
    t->add_option("tables", table_names, "table names")->required();
  }

  std::string receiver_name;
  auto* notify = app.add_subcommand("notify", "notifications");
  notify->require_subcommand(1);
  auto* notify_test = notify->add_subcommand(
      "test", "send a test notification through a receiver and print the provider's answer");
  notify_test->add_option("--config", config_path, "config file")->required();
  notify_test->add_option("--receiver", receiver_name, "receiver name")->required();

  SilenceOptions silence_options;
  auto* silence = app.add_subcommand("silence", "silences, through the running agent's API");
  silence->require_subcommand(1);
  auto* silence_add = silence->add_subcommand("add", "add a silence; prints its id");
  auto* silence_list = silence->add_subcommand("list", "list silences (active and pending)");
  auto* silence_expire = silence->add_subcommand("expire", "expire silences now");
  for (auto* s : {silence_add, silence_list, silence_expire}) {
    s->add_option("--config", silence_options.config_path, "config file (http.listen, api_token)")
        ->required();
    s->add_option("--url", silence_options.url, "the agent's URL instead of http.listen");
  }
  silence_add
      ->add_option("matchers", silence_options.matchers,
                   "matchers: 'alertname=\"SyncStalled\"' 'entity=~\"acc.*\"'")
      ->required();
  silence_add->add_option("--duration", silence_options.duration, "how long")
      ->capture_default_str();
  silence_add->add_option("--start", silence_options.start, "start (RFC 3339; default now)");
  silence_add->add_option("--end", silence_options.end, "end (RFC 3339; instead of --duration)");
  silence_add->add_option("--comment", silence_options.comment, "why")->required();
  silence_add->add_option("--author", silence_options.author, "who (default $USER)");
  silence_list->add_flag("--expired", silence_options.expired, "also expired silences");
  silence_list->add_flag("--json", silence_options.json, "JSON output");
  silence_expire->add_option("ids", silence_options.ids, "silence ids")->required();

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
  if (*enable_ct) return EnableChangeTrackingCommand(source_db, source_tables, journal_mode);
  if (*lake_verify) return LakeVerifyCommand(lake_path, json, lake_source, config_path, profile);
  if (*lake_relocate) return LakeRelocateCommand(relocate_path);
  if (*link) return LinkCommand(config_path, profile);
  if (*unlink) return UnlinkCommand(config_path, profile, delete_data, confirm);
  if (*relink) return RelinkCommand(config_path, profile, clear);
  if (*tables_add) return TablesCommand(config_path, profile, true, table_names);
  if (*tables_remove) return TablesCommand(config_path, profile, false, table_names);
  if (*notify_test) return NotifyTestCommand(config_path, receiver_name);
  if (*silence_add) return SilenceAddCommand(silence_options);
  if (*silence_list) return SilenceListCommand(silence_options);
  if (*silence_expire) return SilenceExpireCommand(silence_options);
  return 2;
}
