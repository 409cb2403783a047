// The commands of the linkwatch binary, each a function returning the exit
// code (0 ok, 1 runtime failure, 2 bad usage or invalid input). main.cc only
// parses the command line and calls these.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/cli/controls.h"
#include "agent/core/status.h"

namespace linkwatch {
namespace sync {
class SyncEngine;
}
struct ProfileConfig;
struct ConfigTypes;

// The registries every command loads the config with: the builtin sync
// sources, sync destinations and watch sources.
const ConfigTypes& BuiltinConfigTypes();

struct RunOptions {
  std::string config_path;
  std::string listen_override;  // demo --listen
  // Called once the HTTP server listens, with its URL (e.g. http://127.0.0.1:9464/).
  std::function<void(const std::string& url)> on_listening;
  // Called once the sync core runs (the demo injects its stall through it).
  std::function<void(sync::SyncEngine&)> on_sync_started;
};

// `run --config FILE`: runs until controls.RequestStop().
int RunAgent(const RunOptions& options, Controls& controls);
int CheckConfig(const std::string& config_path);
// `notify test --config FILE --receiver NAME`: sends a clearly marked test
// notification through the receiver's integration and prints the provider's
// answer; 0 delivered, 1 refused or unreachable, 2 bad config or receiver.
int NotifyTestCommand(const std::string& config_path, const std::string& receiver);
int RulesCheck(const std::vector<std::string>& files);
int RulesTest(const std::vector<std::string>& files);
int PrintStatus(const std::string& config_path, const std::string& profile, bool json);

// Sync-core commands (sync_commands.cc).
// `source enable-change-tracking --db FILE --table T... [--journal-mode M]`
int EnableChangeTrackingCommand(const std::string& db_path, const std::vector<std::string>& tables,
                                const std::string& journal_mode);
// `lake verify --path DIR [--json] [--source FILE]`: 0 consistent, 1 any
// inconsistency, 2 bad usage (DIR not a folder, FILE not a SQLite source).
// `lake verify`: the lake at `path`, or the lake of `profile` in the config at
// `config_path` (compared with that profile's source unless `source_path`
// names one).
int LakeVerifyCommand(const std::string& path, bool json, const std::string& source_path,
                      const std::string& config_path, const std::string& profile);
// `lake relocate --path DIR`: 0 done (or nothing to change), 1 refused
// (model.json missing or corrupt, a location that cannot be mapped, the lake
// in use by a running agent); nothing is changed when it refuses.
int LakeRelocateCommand(const std::string& path);

// Lifecycle commands (link_commands.cc); they write the state store, and a
// running agent picks the change up within a second.
int LinkCommand(const std::string& config_path, const std::string& profile);
int UnlinkCommand(const std::string& config_path, const std::string& profile, bool delete_data,
                  const std::string& confirm);
int RelinkCommand(const std::string& config_path, const std::string& profile, bool clear);
int TablesCommand(const std::string& config_path, const std::string& profile, bool add,
                  const std::vector<std::string>& tables);
// Whether the profile's source has `tables`, each under change tracking:
// what the agent needs to sync them (the error names the table and the
// source, and says how to enable tracking). `link`, `relink` and `tables
// add` refuse otherwise; check-config warns. Ok for kinds of source this
// version does not sync (check-config refuses those). `unreadable` (if
// given) is set when the source file exists but cannot be opened (a runtime
// failure, not bad input).
Status CheckSourceTables(const ProfileConfig& profile, const std::vector<std::string>& tables,
                         bool* unreadable = nullptr);

// `silence add|list|expire` (silence_commands.cc): through a running agent's
// /api/v1/silences, at the config's http.listen (or --url) with its
// api_token. 0 ok, 1 the agent refused or could not be reached, 2 bad usage.
struct SilenceOptions {
  std::string config_path;
  std::string url;                     // overrides the config's http.listen
  std::vector<std::string> matchers;   // add: 'alertname="X"', entity=~"a.*"
  std::string duration = "1h";         // add
  std::string start, end;              // add: RFC 3339; end overrides duration
  std::string comment, author;         // add
  bool expired = false, json = false;  // list
  std::vector<std::string> ids;        // expire
};
int SilenceAddCommand(const SilenceOptions& options);
int SilenceListCommand(const SilenceOptions& options);
int SilenceExpireCommand(const SilenceOptions& options);

}  // namespace linkwatch
