#include "agent/core/time_format.h"

// date::parse trips a false -Wmaybe-uninitialized in g++ 12 at -O2 (clang
// has no such warning group and would reject the pragma under -Werror).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <date/date.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>

namespace linkwatch {
namespace {

struct Unit {
  std::string_view suffix;
  long long ms;
};
// Longest suffix first so "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ms", 1},         {"y", 365LL * 86400000}, {"w", 7LL * 86400000},
                           {"d", 86400000LL}, {"h", 3600000LL},        {"m", 60000LL},
                           {"s", 1000LL}};

}  // namespace

Result<Millis> ParseDuration(std::string_view text) {
  if (text.empty()) return Status::Error("empty duration");
  if (text == "0") return Millis(0);
  long long total = 0;
  size_t i = 0;
  int last_rank = -1;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) {
      return Status::Error("invalid duration \"" + std::string(text) +
                           "\" (expected e.g. 500ms, 30s, 5m, 1h30m, 1d)");
    }
    long long n = 0;
    auto [p, ec] = std::from_chars(text.data() + start, text.data() + i, n);
    (void)p;
    if (ec != std::errc()) return Status::Error("duration out of range: " + std::string(text));
    int rank = -1;
    for (int u = 0; u < static_cast<int>(std::size(kUnits)); ++u) {
      if (text.substr(i, kUnits[u].suffix.size()) == kUnits[u].suffix) {
        rank = u;
        break;
      }
    }
    if (rank < 0) {
      return Status::Error("invalid duration \"" + std::string(text) +
                           "\" (missing or unknown unit; use ms, s, m, h, d, w, y)");
    }
    // Units must go from largest to smallest: "1h30m", not "30m1h".
    int order = rank == 0 ? 100 : rank;  // ms is the smallest
    if (order <= last_rank) {
      return Status::Error("invalid duration \"" + std::string(text) +
                           "\" (units must go from largest to smallest)");
    }
    last_rank = order;
    // Reject what does not fit in milliseconds rather than overflow.
    if (n > (std::numeric_limits<long long>::max() - total) / kUnits[rank].ms) {
      return Status::Error("duration out of range: " + std::string(text));
    }
    total += n * kUnits[rank].ms;
    i += kUnits[rank].suffix.size();
  }
  return Millis(total);
}

std::string FormatDuration(Millis d) {
  long long ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const long long days = ms / 86400000;
  ms %= 86400000;
  const long long hours = ms / 3600000;
  ms %= 3600000;
  const long long minutes = ms / 60000;
  ms %= 60000;
  const long long seconds = ms / 1000;
  ms %= 1000;
  if (days) out += std::to_string(days) + "d";
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (seconds) out += std::to_string(seconds) + "s";
  if (ms) out += std::to_string(ms) + "ms";
  return out;
}

std::string FormatDurationSeconds(double seconds) {
  if (!std::isfinite(seconds)) return "";
  // Beyond what milliseconds in a long long hold (a duration multiplied by a
  // huge count): plain seconds rather than an out-of-range conversion.
  if (std::fabs(seconds) >= 9e15) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17gs", seconds);
    return buf;
  }
  // Whole seconds from one second up ("30s", "21m1s"); milliseconds below.
  long long ms = static_cast<long long>(std::llround(seconds * 1000.0));
  if (std::llabs(ms) >= 1000) ms = (ms / 1000) * 1000;
  return FormatDuration(Millis(ms));
}

namespace {

// whole + micros/1e6 as a double that never reaches whole + 1: far from the
// epoch a double cannot hold every microsecond (at year 9999 its step is
// 30 us), and rounding up would turn 23:59:59.999999 into the next day.
double NotPastSecond(long long whole, long long micros) {
  const double next = static_cast<double>(whole + 1);
  double v = static_cast<double>(whole) + static_cast<double>(micros) / 1e6;
  if (v >= next) v = std::nextafter(next, 0.0);
  return v;
}

// The form every writer of the state tables uses ("2026-01-01T00:21:00Z",
// optionally with a space for 'T' and a fraction) parsed by hand: the
// stream-based date::parse costs microseconds per call, and a state read
// parses tens of thousands. Returns nullopt for anything else, which then
// takes the general path. The calendar math is the date library's.
std::optional<double> ParseCanonicalDateTime(std::string_view s) {
  auto digits = [&](size_t at, size_t n, int& out) {
    if (at + n > s.size()) return false;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':' || s.back() != 'Z') {
    return std::nullopt;
  }
  if (!digits(0, 4, y) || !digits(5, 2, mo) || !digits(8, 2, d) || !digits(11, 2, h) ||
      !digits(14, 2, mi) || !digits(17, 2, sec)) {
    return std::nullopt;
  }
  // Microsecond resolution, as the general path; further digits are cut,
  // never rounded up into the next second.
  long long micros = 0;
  size_t i = 19;
  if (s[i] == '.') {
    int n = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++n) {
      if (n < 6) micros = micros * 10 + (s[i] - '0');
    }
    if (n == 0) return std::nullopt;  // "." without digits
    for (; n < 6; ++n) micros *= 10;
  }
  if (i != s.size() - 1 || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  const auto days = date::sys_days(ymd).time_since_epoch().count();
  const long long whole = static_cast<long long>(days) * 86400 + h * 3600 + mi * 60 + sec;
  return NotPastSecond(whole, micros);
}

double FromMicros(
    std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds> tp) {
  const long long us = tp.time_since_epoch().count();
  const long long whole = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  return NotPastSecond(whole, us - whole * 1000000);
}

}  // namespace

Result<double> ParseDateTime(std::string_view text) {
  if (auto fast = ParseCanonicalDateTime(text)) return *fast;
  std::string s(text);
  // Accept a space instead of 'T' (SQLite's datetime() writes one).
  if (s.size() > 10 && s[10] == ' ') s[10] = 'T';
  using namespace date;
  std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds> tp;
  {
    std::istringstream in(s);
    in >> date::parse("%FT%TZ", tp);
    if (!in.fail() && in.peek() == EOF) return FromMicros(tp);
  }
  {
    std::istringstream in(s);
    std::chrono::minutes offset{0};
    in >> date::parse("%FT%T%Ez", tp, offset);
    if (!in.fail() && in.peek() == EOF) return FromMicros(tp);
  }
  {
    std::istringstream in(s);
    in >> date::parse("%FT%T", tp);  // no zone: UTC
    if (!in.fail() && in.peek() == EOF) return FromMicros(tp);
  }
  {
    std::istringstream in(s);
    date::sys_days day;
    in >> date::parse("%F", day);
    if (!in.fail() && in.peek() == EOF) return ToEpochSeconds(TimePoint(day));
  }
  return Status::Error("invalid datetime \"" + std::string(text) +
                       "\" (expected ISO-8601 UTC, e.g. 2026-01-01T00:00:00Z)");
}

std::string FormatDateTime(double epoch_seconds) {
  // Years 0000-9999 only (ISO-8601's four digits); anything else, and
  // non-finite values, as a plain number rather than undefined behaviour.
  if (!(epoch_seconds >= -62167219200.0 && epoch_seconds < 253402300800.0)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", epoch_seconds);
    return buf;
  }
  // Round to the microsecond the parse keeps (undoing the double's
  // representation error), then cut to milliseconds: never round up past
  // what the source holds (23:59:59.9999 stays in its second).
  const long long us = std::llround(epoch_seconds * 1e6);
  const long long ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
  date::sys_time<std::chrono::milliseconds> tp{std::chrono::milliseconds(ms)};
  if (ms % 1000 == 0) {
    return date::format("%FT%TZ", std::chrono::time_point_cast<std::chrono::seconds>(tp));
  }
  return date::format("%FT%TZ", tp);
}

std::string FormatDateTime(TimePoint t) { return FormatDateTime(ToEpochSeconds(t)); }

std::string FormatHttpDate(TimePoint t) {
  // date::format's %a and %b follow the global locale; HTTP wants English.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto days = std::chrono::floor<date::days>(secs);
  const date::year_month_day ymd{days};
  const date::hh_mm_ss<std::chrono::seconds> hms{secs - days};
  const unsigned weekday = date::weekday{days}.c_encoding();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT", kDays[weekday],
                static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

}  // namespace linkwatch
