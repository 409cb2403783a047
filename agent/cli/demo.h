// `linkwatch demo`: a self-contained tour. It creates a change-tracked
// SQLite CRM (account, contact, opportunity; thousands of rows) and a config
// whose profile "crm" replicates it into a lake folder, runs the agent on it
// while a generator changes rows at a steady rate, and pauses the account
// table's sync for about a minute so that SyncStalled fires and resolves.
// On stop it halts the generator, lets the sync drain, and exits 0.
#pragma once

#include <string>

#include "agent/cli/controls.h"

namespace linkwatch {

struct DemoOptions {
  std::string dir = "linkwatch-demo";
  std::string listen = "127.0.0.1:9464";
  int duration_seconds = 0;  // 0: until Ctrl-C
  // The stall window, seconds after start (tests may shorten it).
  int stall_from = 10;
  int stall_until = 65;
};

// Runs until controls.RequestStop() or the duration expires.
int RunDemo(const DemoOptions& options, Controls& controls);

}  // namespace linkwatch
