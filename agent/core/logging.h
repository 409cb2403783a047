// Logging setup: spdlog to stderr, one format for the whole process. Call
// SetupLogging once from main; afterwards use spdlog::info/warn/... anywhere.
// Never log a Secret's value (use Secret::Describe).
#pragma once

#include <string>

namespace linkwatch {

// level: trace, debug, info, warn, error. Returns false for an unknown level.
bool SetupLogging(const std::string& level);

}  // namespace linkwatch
