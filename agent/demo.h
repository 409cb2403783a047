// `linkwatch demo`: a self-contained tour. Until the sync core lands, the
// demo writes a sample state store (profile "crm" with account, contact and
// opportunity) and a simulator thread keeps it moving the way a healthy
// Synapse Link does — lastsynceddatatime advancing, counts growing — then
// stalls `account` for a minute so that SyncStalled fires and resolves.
// The agent itself runs unchanged on the generated config.
#pragma once

#include <string>

#include "agent/controls.h"

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
