// Durations and datetimes as users write and read them.
// Durations are Prometheus-style: "500ms", "30s", "5m", "1h30m", "1d", "1w";
// FormatDuration renders compactly ("21m", "1h5m", "1.5s"). Datetimes are
// ISO-8601 UTC ("2026-01-01T00:00:00Z", fractional seconds and +hh:mm offsets
// accepted); HTTP headers use RFC 1123 dates. All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "agent/core/clock.h"
#include "agent/core/status.h"

namespace linkwatch {

Result<Millis> ParseDuration(std::string_view text);
std::string FormatDuration(Millis d);
// Seconds form used by the rule engine (fractional seconds allowed).
std::string FormatDurationSeconds(double seconds);

// Returns seconds since the epoch.
Result<double> ParseDateTime(std::string_view text);
// "2026-01-01T00:21:00Z", with milliseconds only when they are not zero.
std::string FormatDateTime(double epoch_seconds);
std::string FormatDateTime(TimePoint t);
// RFC 1123 / HTTP-date, always in GMT and English: "Fri, 08 Apr 2015 03:52:31 GMT"
// (whole seconds, cut down). The parse is net::ParseRetryAfter's.
std::string FormatHttpDate(TimePoint t);

}  // namespace linkwatch
