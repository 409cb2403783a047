// The status page served at GET /: per profile and table the monitor columns
// (as the Synapse Link portal shows them), the watch sources and the firing
// and pending alerts. Server-rendered HTML with no scripts (it refreshes
// itself every few seconds), built from the same JSON as /api/v1/status so
// the two never disagree. Pure function; thread-safe.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "rules/alert.h"

namespace linkwatch {

// `status` is the /api/v1/status document; `now` epoch seconds.
std::string RenderStatusPage(const nlohmann::json& status, const std::vector<Alert>& alerts,
                             double now);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(const std::string& text);

}  // namespace linkwatch
