#include "agent/sync/destinations/lake_verify.h"

#include <date/date.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include "agent/core/crypto.h"
#include "agent/core/text.h"
#include "agent/sync/destinations/cdm_model_check.h"
#include "agent/sync/destinations/csv_reader.h"
#include "agent/sync/source.h"
#include "agent/sync/source_registry.h"

namespace linkwatch::sync {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kSnapshotSuffix = "_partitioned";
// Folders of the lake that hold CSV files which are not partitions.
constexpr std::string_view kMetadataFolders[] = {"Microsoft.Athena.TrickleFeedService",
                                                 "OptionsetMetadata"};

// Length of the UTF-8 sequence at s[i]: well-formed (Unicode table 3-7) when
// *ok, else the maximal subpart of an ill-formed one (at least one byte).
size_t Utf8Sequence(std::string_view s, size_t i, bool* ok) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  *ok = true;
  if (c < 0x80) return 1;
  size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no UTF-16 surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    *ok = false;  // a continuation byte, an overlong lead (C0, C1) or F5..FF
    return 1;
  }
  size_t n = 1;
  for (; n <= need; ++n) {
    if (i + n >= s.size()) break;
    const unsigned char x = b(i + n);
    if (n == 1 ? (x < lo || x > hi) : (x < 0x80 || x > 0xBF)) break;
  }
  if (n <= need) *ok = false;
  return n;
}

// Bytes for a message: line breaks, tabs and other control bytes escaped,
// and bytes that are not UTF-8 as \xHH (the lake's own bytes, not a
// terminal's guess at them).
std::string Printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    char buf[8];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      bool ok = false;
      const size_t n = Utf8Sequence(s, i, &ok);
      if (ok) {
        out.append(s.substr(i, n));
      } else {
        for (size_t k = 0; k < n; ++k) {
          std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(s[i + k]));
          out += buf;
        }
      }
      i += n - 1;
    }
  }
  return out;
}

std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "'";
  out += Printable(s.substr(0, kMax));
  if (s.size() > kMax) out += "...";
  return out + "'";
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || p != end) return std::nullopt;
  return v;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A partition's location: a path relative to the lake folder, an absolute
// path, or a file: URL. Other URLs (the service's https://...dfs...) name no
// file a local reader can open.
Result<fs::path> ResolveLocation(const fs::path& dir, const std::string& location) {
  if (location.empty()) return Status::Error("empty location");
  std::string_view loc = location;
  if (loc.size() >= 5 && EqualsIgnoreCase(loc.substr(0, 5), "file:")) {
    loc.remove_prefix(5);
    if (loc.starts_with("//")) {
      loc.remove_prefix(2);
      const size_t slash = loc.find('/');
      const std::string_view host = loc.substr(0, slash);
      if (!host.empty() && !EqualsIgnoreCase(host, "localhost")) {
        return Status::Error("file URL " + Quoted(location) + " names another host");
      }
      if (slash == std::string_view::npos) return Status::Error("file URL without a path");
      loc.remove_prefix(slash);
    }
    if (!loc.starts_with("/"))
      return Status::Error("file URL " + Quoted(location) + " not absolute");
    return fs::path(PercentDecode(loc)).lexically_normal();
  }
  if (loc.find("://") != std::string_view::npos) {
    return Status::Error(Quoted(location) + " is neither a path nor a file URL");
  }
  const fs::path p(location);
  return (p.is_absolute() ? p : dir / p).lexically_normal();
}

// The same file whatever the spelling (symbolic links, "..").
std::string Canonical(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal().string() : c.string();
}

std::string ReadText(Env& env, const fs::path& path, std::string& error) {
  auto in = env.OpenSequential(path.string());
  if (!in) {
    error = "cannot be opened";
    return {};
  }
  std::string out;
  char buf[1 << 16];
  while (true) {
    auto n = (*in)->Read(buf, sizeof buf);
    if (!n) {
      error = "cannot be read";
      break;
    }
    if (*n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

// What stat() says of `path` (following symbolic links); nullopt when
// nothing is there or it cannot be stat'ed.
std::optional<FileInfo> StatOf(Env& env, const fs::path& path) {
  auto info = env.Stat(path.string());
  return info.ok() ? *info : std::nullopt;
}

bool IsRegularFile(Env& env, const fs::path& path) {
  const auto info = StatOf(env, path);
  return info && info->is_regular;
}

// --- Values as a reader types them (lake-format.md "CSV") -----------------

// The offset of the first byte that is not valid UTF-8, or npos.
size_t InvalidUtf8At(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    bool ok = false;
    const size_t n = Utf8Sequence(s, i, &ok);
    if (!ok) return i;
    i += n;
  }
  return std::string_view::npos;
}

// `s` with U+FFFD for each maximal ill-formed subpart.
std::string ReplaceInvalidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool ok = false;
    const size_t n = Utf8Sequence(s, i, &ok);
    if (ok) {
      out.append(s.substr(i, n));
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += n;
  }
  return out;
}

bool IsGuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : std::isxdigit(static_cast<unsigned char>(s[i])) == 0) return false;
  }
  return true;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A decimal in plain notation: -?digits(.digits)?, as (negative, integer
// digits without leading zeros, fraction digits without trailing zeros).
struct PlainDecimal {
  bool negative = false;
  std::string integer;   // "" for 0
  std::string fraction;  // "" for none
  std::string Text() const {
    if (integer.empty() && fraction.empty()) return "0";
    std::string out = negative ? "-" : "";
    out += integer.empty() ? "0" : integer;
    if (!fraction.empty()) out += "." + fraction;
    return out;
  }
};

std::optional<PlainDecimal> ParsePlainDecimal(std::string_view s) {
  PlainDecimal d;
  if (!s.empty() && s[0] == '-') {
    d.negative = true;
    s.remove_prefix(1);
  }
  const size_t dot = s.find('.');
  std::string_view integer = s.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (!AllDigits(integer) || (dot != std::string_view::npos && !AllDigits(fraction))) {
    return std::nullopt;
  }
  while (!integer.empty() && integer[0] == '0') integer.remove_prefix(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  d.integer = integer;
  d.fraction = fraction;
  if (d.integer.empty() && d.fraction.empty()) d.negative = false;
  return d;
}

// A number in any notation a source holds ("1e-07", "-12.50") as a plain decimal.
std::optional<PlainDecimal> ParseAnyDecimal(std::string_view s) {
  const size_t e = s.find_first_of("eE");
  if (e == std::string_view::npos) {
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    return ParsePlainDecimal(s);
  }
  int64_t exponent = 0;
  std::string_view exp_text = s.substr(e + 1);
  if (!exp_text.empty() && exp_text[0] == '+') exp_text.remove_prefix(1);
  auto [p, ec] = std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  if (ec != std::errc() || p != exp_text.data() + exp_text.size() || exponent > 400 ||
      exponent < -400) {
    return std::nullopt;
  }
  auto m = ParseAnyDecimal(s.substr(0, e));
  if (!m) return std::nullopt;
  std::string digits = m->integer + m->fraction;
  int64_t point = static_cast<int64_t>(m->integer.size()) + exponent;  // digits before the point
  if (point < 0) {
    digits.insert(0, static_cast<size_t>(-point), '0');
    point = 0;
  }
  if (static_cast<size_t>(point) > digits.size()) digits.append(point - digits.size(), '0');
  std::string text =
      (m->negative ? "-" : "") + digits.substr(0, point) + "." + digits.substr(point);
  if (point == 0) text.insert(m->negative ? 1 : 0, "0");
  return ParsePlainDecimal(text.back() == '.' ? text.substr(0, text.size() - 1) : text);
}

// `d` rounded to `scale` fraction digits, half away from zero or half even.
PlainDecimal RoundDecimal(PlainDecimal d, int scale, bool half_even) {
  if (scale < 0 || d.fraction.size() <= static_cast<size_t>(scale)) return d;
  const char next = d.fraction[scale];
  const bool rest_nonzero = d.fraction.find_first_not_of('0', scale + 1) != std::string::npos;
  std::string digits = d.integer + d.fraction.substr(0, scale);
  bool up = next > '5' || (next == '5' && (rest_nonzero || !half_even));
  if (next == '5' && !rest_nonzero && half_even) {
    const char last = digits.empty() ? '0' : digits.back();
    up = (last - '0') % 2 == 1;
  }
  if (up) {
    int i = static_cast<int>(digits.size()) - 1;
    while (i >= 0 && digits[i] == '9') digits[i--] = '0';
    if (i >= 0) {
      ++digits[i];
    } else {
      digits.insert(0, "1");
    }
  }
  const size_t int_len = digits.size() - static_cast<size_t>(scale);
  std::string text = (d.negative ? "-" : "") + (int_len == 0 ? "0" : digits.substr(0, int_len));
  if (scale > 0) text += "." + digits.substr(int_len);
  return *ParsePlainDecimal(text);
}

// A point in time as (seconds since 1970, 100 ns ticks); the lake writes 7
// fraction digits at most, and a reader sees no more.
struct Instant {
  int64_t seconds = 0;
  int64_t ticks = 0;
  bool operator==(const Instant&) const = default;
  std::string Text() const {
    const date::sys_seconds t{std::chrono::seconds{seconds}};
    std::string out = date::format("%Y-%m-%dT%H:%M:%S", t);
    if (ticks != 0) {
      char buf[16];
      std::snprintf(buf, sizeof buf, ".%07lld", static_cast<long long>(ticks));
      std::string frac = buf;
      while (frac.back() == '0') frac.pop_back();
      out += frac;
    }
    return out + "Z";
  }
};

std::optional<Instant> Civil(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s) {
  const date::year_month_day ymd{date::year{static_cast<int>(y)},
                                 date::month{static_cast<unsigned>(mo)},
                                 date::day{static_cast<unsigned>(d)}};
  if (y < 1 || y > 9999 || !ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return Instant{date::sys_days{ymd}.time_since_epoch().count() * 86400 + h * 3600 + mi * 60 + s,
                 0};
}

// Reads digits at s[i, i + n) into *v.
bool Digits(std::string_view s, size_t i, size_t n, int64_t* v) {
  if (i + n > s.size()) return false;
  *v = 0;
  for (size_t k = i; k < i + n; ++k) {
    if (s[k] < '0' || s[k] > '9') return false;
    *v = *v * 10 + (s[k] - '0');
  }
  return true;
}

// yyyy-MM-ddTHH:mm:ss[.f+][Z|+00:00] (a space for the T too); `zone_required`
// for lake values, which always say UTC.
std::optional<Instant> ParseIsoInstant(std::string_view s, bool zone_required) {
  int64_t y, mo, d, h, mi, sec;
  if (!zone_required && s.size() == 10 && Digits(s, 0, 4, &y) && s[4] == '-' &&
      Digits(s, 5, 2, &mo) && s[7] == '-' && Digits(s, 8, 2, &d)) {
    return Civil(y, mo, d, 0, 0, 0);  // a date: its midnight, UTC
  }
  if (s.size() < 19 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return std::nullopt;
  }
  auto t = Civil(y, mo, d, h, mi, sec);
  if (!t) return std::nullopt;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    size_t n = 0;
    int64_t ticks = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++n) {
      if (n < 7) ticks = ticks * 10 + (s[i] - '0');  // more digits: cut, never rounded up
    }
    if (n == 0) return std::nullopt;
    for (; n < 7; ++n) ticks *= 10;
    t->ticks = ticks;
  }
  const std::string_view zone = s.substr(i);
  if (zone.empty()) return zone_required ? std::nullopt : t;
  if (zone == "Z") return t;
  // An offset (+HH:MM): the same instant in UTC.
  int64_t oh = 0, om = 0;
  if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && Digits(zone, 1, 2, &oh) &&
      zone[3] == ':' && Digits(zone, 4, 2, &om) && oh < 24 && om < 60) {
    t->seconds -= (zone[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    return t;
  }
  return std::nullopt;
}

// M/d/yyyy h:mm:ss AM|PM (SinkCreatedOn, SinkModifiedOn).
std::optional<Instant> ParseSinkInstant(std::string_view s) {
  int64_t v[6] = {};
  size_t i = 0;
  const char seps[] = {'/', '/', ' ', ':', ':', ' '};
  for (int k = 0; k < 6; ++k) {
    size_t n = 0;
    v[k] = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && n < 4)
      v[k] = v[k] * 10 + (s[i++] - '0'), ++n;
    if (n == 0 || i >= s.size() || s[i] != seps[k]) return std::nullopt;
    ++i;
  }
  const std::string_view ampm = s.substr(i);
  if ((ampm != "AM" && ampm != "PM") || v[3] < 1 || v[3] > 12) return std::nullopt;
  const int64_t hour = v[3] % 12 + (ampm == "PM" ? 12 : 0);
  return Civil(v[2], v[0], v[1], hour, v[4], v[5]);
}

std::optional<Instant> ParseLakeInstant(std::string_view s) {
  if (auto t = ParseIsoInstant(s, true)) return t;
  return ParseSinkInstant(s);
}

std::optional<Instant> UnixInstant(double seconds) {
  if (!std::isfinite(seconds) || seconds < -62135596800.0 || seconds >= 253402300800.0) {
    return std::nullopt;
  }
  const long long us = std::llround(seconds * 1e6);  // what a double holds: microseconds
  const long long whole = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  return Instant{whole, (us - whole * 1000000) * 10};
}

// A source's datetime: ISO-8601 text, or Unix seconds (a number, or text).
std::optional<Instant> SourceInstant(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kInt:
      return UnixInstant(static_cast<double>(v.i));
    case Value::Kind::kReal:
      return UnixInstant(v.d);
    case Value::Kind::kText: {
      if (auto t = ParseIsoInstant(v.text, false)) return t;
      double d = 0;
      auto [p, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), d);
      if (ec == std::errc() && p == v.text.data() + v.text.size() && !v.text.empty()) {
        return UnixInstant(d);
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::optional<double> ParseLakeDouble(std::string_view s) {
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "Infinity") return std::numeric_limits<double>::infinity();
  if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return d;
}

std::string ShortestDouble(double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : std::string();
}

// Why a non-NULL lake field `v` cannot be read as `type` (empty when it can).
// `precision`/`scale` are the decimal trait's.
std::string TypeProblem(const std::string& type, std::string_view v, int precision, int scale) {
  if (type == "guid") return IsGuid(v) ? "" : "not a GUID";
  if (type == "int64" || type == "int32") {
    return ParseInt(v) ? "" : "not an integer";
  }
  if (type == "double") return ParseLakeDouble(v) ? "" : "not a double";
  if (type == "boolean") return v == "True" || v == "False" ? "" : "not True or False";
  if (type == "dateTime" || type == "dateTimeOffset") {
    return ParseLakeInstant(v) ? "" : "not a datetime in a lake format";
  }
  if (type == "decimal") {
    auto d = ParsePlainDecimal(v);
    if (!d) return "not a decimal in plain notation";
    if (precision > 0 && scale >= 0) {
      if (d->fraction.size() > static_cast<size_t>(scale)) {
        return "more than the declared scale " + std::to_string(scale) + " in fraction digits";
      }
      if (d->integer.size() > static_cast<size_t>(precision - scale)) {
        return "more integer digits than DECIMAL(" + std::to_string(precision) + "," +
               std::to_string(scale) + ") holds";
      }
    }
  }
  return "";
}

// Whether the lake's field (`lake`, NULL when `lake_null`) is what a reader
// must get for the source value `v` of an attribute of `type` (lake-format.md);
// when not, *want says what it should have been.
bool SameAsSource(const std::string& type, int scale, const Value& v, std::string_view lake,
                  bool lake_null, std::string* want) {
  if (v.is_null()) {
    *want = "NULL";
    return lake_null;
  }
  auto expect = [&](const std::string& text) {
    *want = Quoted(text);
    return !lake_null && lake == text;
  };
  if (v.kind == Value::Kind::kBlob) return expect(Base64Encode(v.text));
  if (type == "guid" && v.kind == Value::Kind::kText) return expect(AsciiToLower(v.text));
  if (type == "int64" || type == "int32") {
    if (v.kind == Value::Kind::kInt) return expect(std::to_string(v.i));
  } else if (type == "double") {
    std::optional<double> d;
    if (v.kind == Value::Kind::kInt) d = static_cast<double>(v.i);
    if (v.kind == Value::Kind::kReal) d = v.d;
    if (v.kind == Value::Kind::kText) d = ParseLakeDouble(v.text);
    if (d) {
      *want = std::isnan(*d)   ? "NaN"
              : std::isinf(*d) ? (*d > 0 ? "Infinity" : "-Infinity")
                               : ShortestDouble(*d);
      auto got = lake_null ? std::nullopt : ParseLakeDouble(lake);
      if (!got) return false;
      if (std::isnan(*d)) return std::isnan(*got);
      return *got == *d && std::signbit(*got) == std::signbit(*d);
    }
  } else if (type == "decimal") {
    std::optional<PlainDecimal> d;
    if (v.kind == Value::Kind::kInt) d = ParsePlainDecimal(std::to_string(v.i));
    if (v.kind == Value::Kind::kReal) d = ParseAnyDecimal(ShortestDouble(v.d));
    if (v.kind == Value::Kind::kText) d = ParseAnyDecimal(v.text);
    if (d) {
      // The writer rounds to the declared scale; either usual rule is fine.
      const PlainDecimal up = RoundDecimal(*d, scale, false);
      const PlainDecimal even = RoundDecimal(*d, scale, true);
      *want = up.Text();
      auto got = lake_null ? std::nullopt : ParsePlainDecimal(lake);
      return got && (got->Text() == up.Text() || got->Text() == even.Text());
    }
  } else if (type == "boolean") {
    std::optional<bool> b;
    if (v.kind == Value::Kind::kInt) b = v.i != 0;
    if (v.kind == Value::Kind::kReal) b = v.d != 0;
    if (v.kind == Value::Kind::kText) {
      const std::string t = AsciiToLower(v.text);
      if (t == "true" || t == "1") b = true;
      if (t == "false" || t == "0") b = false;
    }
    if (b) return expect(*b ? "True" : "False");
  } else if (type == "dateTime" || type == "dateTimeOffset") {
    if (auto t = SourceInstant(v)) {
      *want = t->Text();
      auto got = lake_null ? std::nullopt : ParseLakeInstant(lake);
      return got && *got == *t;
    }
  }
  // Text (and values of other types that no rule above covers: compared as
  // the text the source holds).
  switch (v.kind) {
    case Value::Kind::kInt:
      return expect(std::to_string(v.i));
    case Value::Kind::kReal:
      return expect(std::isnan(v.d)   ? "NaN"
                    : std::isinf(v.d) ? (v.d > 0 ? "Infinity" : "-Infinity")
                                      : ShortestDouble(v.d));
    default:
      return expect(ReplaceInvalidUtf8(v.text));
  }
}

struct Entity {
  std::string name;
  std::optional<bool> append_only;  // the annotation, when present
  std::vector<std::string> attributes;
  std::vector<std::string> data_types;  // per attribute
  std::vector<int> precision, scale;    // per attribute: a decimal trait's, else -1
  std::vector<std::pair<std::string, std::string>> partitions;  // name, location
};

// The is.dataFormat.numeric.shaped trait of an attribute: (precision, scale),
// or (-1, -1) (cdm_model_check reports a missing or bad one).
std::pair<int, int> DecimalShape(const json& attribute) {
  int p = -1, s = -1;
  if (!attribute.contains("cdm:traits") || !attribute["cdm:traits"].is_array()) return {p, s};
  for (const json& t : attribute["cdm:traits"]) {
    if (!t.is_object() || t.value("traitReference", json()) != "is.dataFormat.numeric.shaped" ||
        !t.contains("arguments") || !t["arguments"].is_array()) {
      continue;
    }
    for (const json& a : t["arguments"]) {
      if (!a.is_object() || !a.contains("value")) continue;
      const json& v = a["value"];
      int n = -1;
      if (v.is_number_integer()) n = v.get<int>();
      if (v.is_string()) n = static_cast<int>(ParseInt(v.get<std::string>()).value_or(-1));
      if (a.value("name", json()) == "precision") p = n;
      if (a.value("name", json()) == "scale") s = n;
    }
  }
  return {p, s};
}

// One row of an append-only table, for finding repeated (Id, versionnumber).
struct RowKey {
  const std::string* id;  // the key in TableReport::state: stable, and equal Ids share it
  int64_t version;
  int file;
  int64_t line;
};

class Verifier {
 public:
  Verifier(Env& env, const fs::path& dir, const LakeVerifyOptions& options, LakeReport& report)
      : env_(env), dir_(dir), options_(options), report_(report) {}

  void Run() {
    std::vector<Entity> entities;
    if (!ReadModel(entities)) return;
    std::map<std::string, bool> table_modes;
    for (const auto& e : entities) {
      if (!e.name.ends_with(kSnapshotSuffix)) table_modes[e.name] = e.append_only.value_or(false);
    }
    for (const auto& e : entities) {
      TableReport t;
      t.name = e.name;
      t.attributes = e.attributes;
      t.snapshot = e.name.ends_with(kSnapshotSuffix) && e.name.size() > kSnapshotSuffix.size();
      bool mode = e.append_only.value_or(false);
      if (t.snapshot && !e.append_only) {
        auto it = table_modes.find(e.name.substr(0, e.name.size() - kSnapshotSuffix.size()));
        if (it != table_modes.end()) mode = it->second;
      }
      t.append_only = mode;
      ReadTable(e, t);
      report_.tables.push_back(std::move(t));
    }
    FindUnlistedPartitions();
  }

 private:
  std::string Display(const fs::path& p) const {
    const fs::path rel = p.lexically_relative(dir_);
    if (!rel.empty() && *rel.begin() != "..") return rel.generic_string();
    return p.string();
  }

  void LakeProblem(std::string message) {
    ++report_.problem_count;
    report_.problems.push_back(std::move(message));
  }

  // A table's problem; messages of a `kind` beyond the limit are only counted.
  void TableProblem(TableReport& t, const char* kind, std::string message) {
    ++t.problems;
    ++report_.problem_count;
    if (kind != nullptr && ++kind_counts_[kind] > options_.max_messages_per_kind) return;
    report_.problems.push_back(std::move(message));
  }

  void FlushKinds(const TableReport& t) {
    for (const auto& [kind, count] : kind_counts_) {
      if (count > options_.max_messages_per_kind) {
        report_.problems.push_back(t.name + ": ... and " +
                                   std::to_string(count - options_.max_messages_per_kind) +
                                   " more " + kind);
      }
    }
    kind_counts_.clear();
  }

  bool ReadModel(std::vector<Entity>& entities) {
    const fs::path path = dir_ / "model.json";
    if (!IsRegularFile(env_, path)) {
      LakeProblem("model.json: missing (a lake lists its tables and partitions in model.json)");
      return false;
    }
    std::string error;
    const std::string text = ReadText(env_, path, error);
    if (!error.empty()) {
      LakeProblem("model.json: " + error);
      return false;
    }
    json model;
    try {
      model = json::parse(text);
    } catch (const json::exception& e) {
      // "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
      std::string what = e.what();
      if (auto at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
      LakeProblem("model.json: not valid JSON: " + what);
      return false;
    }
    // Microsoft's model.json rules first: readers refuse a model that breaks them.
    {
      // One message per broken rule, up to a limit (a lake of relative
      // locations breaks one rule per partition); all are counted.
      auto problems = CheckCdmModel(model);
      const size_t shown = std::max<size_t>(options_.max_messages_per_kind * 2, 1);
      for (size_t i = 0; i < problems.size() && i < shown; ++i) LakeProblem(std::move(problems[i]));
      if (problems.size() > shown) {
        report_.problem_count += static_cast<int64_t>(problems.size() - shown);
        report_.problems.push_back("model.json: ... and " +
                                   std::to_string(problems.size() - shown) +
                                   " more problems of the model");
      }
    }
    if (!model.is_object() || !model.contains("entities") || !model["entities"].is_array()) {
      return false;
    }
    std::set<std::string> names;
    const json& list = model["entities"];
    for (size_t i = 0; i < list.size(); ++i) {
      const json& e = list[i];
      // Entities, attributes and partitions that break the schema's rules
      // were reported by CheckCdmModel; they are skipped here.
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string() ||
          e["name"].get<std::string>().empty()) {
        continue;
      }
      Entity entity;
      entity.name = e["name"].get<std::string>();
      const std::string ewhere = "model.json: entity " + entity.name;
      if (!names.insert(entity.name).second) {
        LakeProblem(ewhere + ": listed twice");
        continue;
      }
      if (e.contains("annotations") && e["annotations"].is_array()) {
        for (const json& a : e["annotations"]) {
          if (!a.is_object() || a.value("name", json()) != "linkwatch:AppendOnly") continue;
          const json v = a.value("value", json());
          entity.append_only = (v.is_string() && EqualsIgnoreCase(v.get<std::string>(), "true")) ||
                               (v.is_boolean() && v.get<bool>());
        }
      }
      if (!e.contains("attributes") || !e["attributes"].is_array()) {
        continue;
      }
      bool attributes_ok = true;
      for (const json& a : e["attributes"]) {
        if (!a.is_object() || !a.contains("name") || !a["name"].is_string()) {
          attributes_ok = false;
          break;
        }
        entity.attributes.push_back(a["name"].get<std::string>());
        entity.data_types.push_back(a.value("dataType", json()).is_string()
                                        ? a["dataType"].get<std::string>()
                                        : std::string());
        const auto [precision, scale] = DecimalShape(a);
        entity.precision.push_back(precision);
        entity.scale.push_back(scale);
      }
      if (!attributes_ok) continue;
      if (e.contains("partitions")) {
        if (!e["partitions"].is_array()) {
          continue;
        }
        for (const json& p : e["partitions"]) {
          if (!p.is_object() || !p.contains("location") || !p["location"].is_string()) {
            LakeProblem(ewhere + ": a partition without a \"location\"");
            continue;
          }
          std::string name = p.contains("name") && p["name"].is_string()
                                 ? p["name"].get<std::string>()
                                 : std::string();
          entity.partitions.emplace_back(std::move(name), p["location"].get<std::string>());
        }
      }
      entities.push_back(std::move(entity));
    }
    return true;
  }

  int Column(const Entity& e, std::string_view name) const {
    for (size_t i = 0; i < e.attributes.size(); ++i) {
      if (EqualsIgnoreCase(e.attributes[i], name)) return static_cast<int>(i);
    }
    return -1;
  }

  void ReadTable(const Entity& e, TableReport& t) {
    const std::string ewhere = "model.json: entity " + e.name;
    id_col_ = Column(e, "Id");
    version_col_ = Column(e, "versionnumber");
    delete_col_ = Column(e, "IsDelete");
    if (id_col_ < 0) {
      TableProblem(t, nullptr, ewhere + ": no Id attribute; its rows cannot be checked");
    } else if (id_col_ != 0) {
      TableProblem(t, nullptr,
                   ewhere + ": Id is attribute " + std::to_string(id_col_ + 1) + ", not the first");
    }
    if (version_col_ < 0) TableProblem(t, nullptr, ewhere + ": no versionnumber attribute");
    if (delete_col_ < 0) TableProblem(t, nullptr, ewhere + ": no IsDelete attribute");
    row_keys_.clear();
    ReserveState(e, t);
    entity_ = &e;
    t.data_types = e.data_types;
    t.scales = e.scale;

    for (const auto& [pname, location] : e.partitions) {
      auto resolved = ResolveLocation(dir_, location);
      if (!resolved) {
        TableProblem(t, nullptr,
                     ewhere + ": partition " + Quoted(pname) + ": " + resolved.message());
        continue;
      }
      const std::string display = Display(*resolved);
      const std::string canonical = Canonical(*resolved);
      const fs::path inside = fs::path(canonical).lexically_relative(Canonical(dir_));
      if (inside.empty() || *inside.begin() == "..") {
        TableProblem(t, nullptr,
                     ewhere + ": partition " + Quoted(pname) + ": location " + Quoted(location) +
                         " is outside the lake folder");
        continue;
      }
      auto [it, fresh] = listed_.emplace(canonical, e.name);
      if (!fresh) {
        TableProblem(t, nullptr,
                     ewhere + ": partition " + display + " is already listed by " +
                         (it->second == e.name ? "it" : "entity " + it->second));
        continue;
      }
      if (!IsRegularFile(env_, *resolved)) {
        TableProblem(t, nullptr,
                     display + ": missing (listed as partition " + Quoted(pname) + " of " + e.name +
                         " in model.json at location " + Quoted(location) + ")");
        continue;
      }
      const int file = static_cast<int>(t.partitions.size());
      t.partitions.push_back(display);
      auto reader = CsvReader::OpenFile(env_, resolved->string(), display);
      if (!reader) {
        TableProblem(t, nullptr, reader.message());
        continue;
      }
      ReadPartition(**reader, file, t);
    }
    Finish(t);
    FlushKinds(t);
  }

  // Sizes the state for the rows the partitions may hold, guessing at least
  // 100 bytes a row (the Id and the two Sink dates alone take 80): rehashing
  // a growing map of a million Ids costs more than reading their CSV.
  void ReserveState(const Entity& e, TableReport& t) {
    uintmax_t bytes = 0;
    for (const auto& [pname, location] : e.partitions) {
      auto resolved = ResolveLocation(dir_, location);
      if (!resolved) continue;
      const auto info = StatOf(env_, *resolved);
      if (info && info->is_regular) bytes += info->size;
    }
    t.state.reserve(static_cast<size_t>(std::min<uintmax_t>(bytes / 100, uintmax_t{1} << 26)));
  }

  void ReadPartition(CsvReader& reader, int file, TableReport& t) {
    while (true) {
      auto more = reader.Next();
      if (!more) {
        TableProblem(t, nullptr, more.message() + " (the rest of the file is not read)");
        break;
      }
      if (!*more) break;
      ++t.rows;
      Row(reader, file, t);
    }
    if (reader.crlf_records() > 0 && reader.lf_records() > 0) {
      TableProblem(t, nullptr,
                   reader.name() + ": mixes CRLF (" + std::to_string(reader.crlf_records()) +
                       " records) and LF (" + std::to_string(reader.lf_records()) + ") line ends");
    }
    if (reader.last_record_unterminated()) {
      TableProblem(t, nullptr,
                   reader.name() + ":" + std::to_string(reader.line()) +
                       ": the last record has no line break (a cut-off write?)");
    }
  }

  void Row(const CsvReader& reader, int file, TableReport& t) {
    const auto& f = reader.fields();
    // Built only for a message: most rows have none.
    auto here = [&] { return reader.name() + ":" + std::to_string(reader.line()) + ": "; };
    auto field = [&](int i) -> std::string_view {
      return i >= 0 && static_cast<size_t>(i) < f.size() ? f[i] : std::string_view();
    };
    if (f.size() > t.attributes.size()) {
      TableProblem(t, "rows longer than the attributes",
                   here() + "row has " + std::to_string(f.size()) + " fields, model.json lists " +
                       std::to_string(t.attributes.size()) + " attributes");
    }
    CheckFields(reader, t);
    if (id_col_ < 0) return;
    const std::string_view id = field(id_col_);
    if (id.empty()) {
      TableProblem(t, "rows without an Id", here() + "row without an Id");
      return;
    }
    int64_t version = 0;
    if (version_col_ >= 0) {
      auto v = ParseInt(field(version_col_));
      if (!v) {
        TableProblem(t, "bad versionnumbers",
                     here() + "Id " + Quoted(id) + ": versionnumber " +
                         Quoted(field(version_col_)) + " is not an integer");
        return;
      }
      version = *v;
    }
    bool deleted = false;
    if (delete_col_ >= 0) {
      const std::string_view d = field(delete_col_);
      if (d == "True") {
        deleted = true;
      } else if (!d.empty() && d != "False") {
        TableProblem(t, "bad IsDelete values",
                     here() + "Id " + Quoted(id) + ": IsDelete is " + Quoted(d) +
                         ", expected True or empty");
      }
    }
    if (deleted && !t.append_only) {
      ++t.deleted;
      TableProblem(t, "delete rows in an in-place table",
                   here() + "Id " + Quoted(id) + ": a delete row in an in-place table");
    }

    auto [it, fresh] = t.state.try_emplace(std::string(id));
    LakeRecord& r = it->second;
    if (t.append_only) row_keys_.push_back({&it->first, version, file, reader.line()});
    if (!fresh) {
      if (!t.append_only) {
        ++t.duplicates;
        TableProblem(t, "duplicate Ids",
                     here() + "duplicate Id " + Quoted(id) + " (also at " + t.Location(r) + ")");
      }
      // The newest version wins; on a tie (a duplicate) the first row stays.
      if (version <= r.version) return;
    }
    r.version = version;
    r.deleted = deleted;
    r.file = file;
    r.line = reader.line();
    if (options_.keep_fields) {
      r.fields.assign(t.attributes.size(), std::string());
      r.nulls.assign(t.attributes.size(), true);
      for (size_t i = 0; i < f.size() && i < r.fields.size(); ++i) {
        r.fields[i] = f[i];
        r.nulls[i] = f[i].empty() && !reader.quoted(i);
      }
    }
  }

  // Every field valid UTF-8 and readable as its attribute's dataType.
  void CheckFields(const CsvReader& reader, TableReport& t) {
    const auto& f = reader.fields();
    const Entity& e = *entity_;
    auto here = [&](size_t i) {
      std::string s = reader.name() + ":" + std::to_string(reader.line()) + ": ";
      if (id_col_ >= 0 && static_cast<size_t>(id_col_) < f.size()) {
        s += "Id " + Quoted(ReplaceInvalidUtf8(f[id_col_])) + ": ";
      }
      return s + "attribute " + e.attributes[i] + ": ";
    };
    for (size_t i = 0; i < f.size() && i < e.attributes.size(); ++i) {
      const std::string_view v = f[i];
      if (const size_t bad = InvalidUtf8At(v); bad != std::string_view::npos) {
        TableProblem(t, "fields that are not valid UTF-8",
                     here(i) + "not valid UTF-8 (byte " + std::to_string(bad) +
                         "); readers refuse the whole partition");
        continue;
      }
      if (v.empty()) continue;  // NULL, or an empty string
      if (static_cast<int>(i) == version_col_ || static_cast<int>(i) == delete_col_) continue;
      const std::string why = TypeProblem(e.data_types[i], v, e.precision[i], e.scale[i]);
      if (!why.empty()) {
        TableProblem(t, "values that do not read as their dataType",
                     here(i) + Quoted(v) + " is " + why + " (dataType " + e.data_types[i] + ")");
      }
    }
  }

  void Finish(TableReport& t) {
    if (t.append_only) {
      // Rows with the same (Id, versionnumber): every one after the first.
      std::sort(row_keys_.begin(), row_keys_.end(), [](const RowKey& a, const RowKey& b) {
        if (a.id != b.id) return std::less<const std::string*>()(a.id, b.id);
        return std::tie(a.version, a.file, a.line) < std::tie(b.version, b.file, b.line);
      });
      std::vector<std::pair<const RowKey*, const RowKey*>> repeats;  // (repeat, first)
      for (size_t i = 1, first = 0; i < row_keys_.size(); ++i) {
        if (row_keys_[i].id == row_keys_[first].id &&
            row_keys_[i].version == row_keys_[first].version) {
          repeats.emplace_back(&row_keys_[i], &row_keys_[first]);
        } else {
          first = i;
        }
      }
      std::sort(repeats.begin(), repeats.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first->file, a.first->line) < std::tie(b.first->file, b.first->line);
      });
      for (const auto& [repeat, first] : repeats) {
        ++t.duplicates;
        TableProblem(t, "duplicate rows",
                     t.partitions[repeat->file] + ":" + std::to_string(repeat->line) +
                         ": duplicate row: Id " + Quoted(*repeat->id) + " versionnumber " +
                         std::to_string(repeat->version) + " again (first at " +
                         t.partitions[first->file] + ":" + std::to_string(first->line) + ")");
      }
      row_keys_.clear();
      for (auto it = t.state.begin(); it != t.state.end();) {
        if (it->second.deleted) {
          ++t.deleted;
          it = t.state.erase(it);
        } else {
          ++it;
        }
      }
    }
    t.live = static_cast<int64_t>(t.state.size());
    if (id_col_ >= 0 && static_cast<size_t>(id_col_) < t.data_types.size() &&
        t.data_types[id_col_] == "guid") {
      // GUIDs are case-insensitive: two Ids that differ only by case are one
      // key to every reader (uniqueidentifier, UUID). String Ids may.
      std::map<std::string, const std::pair<const std::string, LakeRecord>*> lower;
      for (const auto& entry : t.state) {
        auto [it, fresh] = lower.emplace(AsciiToLower(entry.first), &entry);
        if (fresh) continue;
        const auto* a =
            std::min(it->second, &entry, [](auto* x, auto* y) { return x->first < y->first; });
        const auto* b = a == it->second ? &entry : it->second;
        TableProblem(t, "guid Ids that differ only by case",
                     t.Location(b->second) + ": Id " + Quoted(b->first) + " and Id " +
                         Quoted(a->first) + " (" + t.Location(a->second) +
                         ") differ only by case: one key to a reader of guid");
      }
    }
  }

  // CSV files in a table folder (not in Snapshot/) that model.json does not list.
  void FindUnlistedPartitions() {
    std::vector<std::string> unlisted;
    auto folders = env_.ListDir(dir_.string());
    for (const auto& d : folders.ok() ? *folders : std::vector<DirEntry>{}) {
      const fs::path folder = dir_ / d.name;
      const auto info = StatOf(env_, folder);
      if (!info || !info->is_dir) continue;
      if (std::find(std::begin(kMetadataFolders), std::end(kMetadataFolders), d.name) !=
          std::end(kMetadataFolders)) {
        continue;
      }
      auto files = env_.ListDir(folder.string());
      for (const auto& f : files.ok() ? *files : std::vector<DirEntry>{}) {
        const fs::path file = folder / f.name;
        if (file.extension() != ".csv" || !IsRegularFile(env_, file)) continue;
        if (listed_.count(Canonical(file)) == 0) unlisted.push_back(Display(file));
      }
    }
    std::sort(unlisted.begin(), unlisted.end());
    for (const auto& u : unlisted) {
      LakeProblem(u + ": a partition file that model.json does not list");
    }
  }

  Env& env_;
  const fs::path dir_;
  const LakeVerifyOptions& options_;
  LakeReport& report_;
  std::map<std::string, std::string> listed_;  // canonical path -> entity
  std::map<std::string, size_t> kind_counts_;
  std::vector<RowKey> row_keys_;
  int id_col_ = -1;
  int version_col_ = -1;
  int delete_col_ = -1;
  const Entity* entity_ = nullptr;  // the entity ReadTable reads
};

// A source key as the lake's Id must hold it (lake-format.md "Rows from a
// SQLite source"): integers in decimal, text as it is (invalid UTF-8
// replaced), in lower case when the Id is a guid, BLOBs as base64.
std::string RenderKey(const Value& v, bool guid) {
  switch (v.kind) {
    case Value::Kind::kInt:
      return std::to_string(v.i);
    case Value::Kind::kReal:
      return ShortestDouble(v.d);
    case Value::Kind::kText:
      return guid ? AsciiToLower(ReplaceInvalidUtf8(v.text)) : ReplaceInvalidUtf8(v.text);
    case Value::Kind::kBlob:
      return Base64Encode(v.text);
    case Value::Kind::kNull:
      break;
  }
  return {};
}

void CompareTable(Source& source, TableReport& t, LakeReport& report,
                  const LakeVerifyOptions& options) {
  const size_t max_messages = options.max_messages_per_kind;
  static const std::set<std::string> kNone;
  const auto failed_it = options.failed_records.find(t.name);
  const std::set<std::string>& failed =
      failed_it == options.failed_records.end() ? kNone : failed_it->second;
  std::map<std::string, size_t> counts;
  auto problem = [&](const char* kind, std::string message) {
    ++t.problems;
    ++report.problem_count;
    if (++counts[kind] <= max_messages) report.problems.push_back(std::move(message));
  };
  auto schema = source.Describe(t.name);
  if (!schema) {
    problem("source", t.name + ": cannot be compared with the source: " + schema.message());
    return;
  }
  for (auto& [id, r] : t.state) r.in_source = false;
  auto attribute = [&](std::string_view name) {
    for (size_t i = 0; i < t.attributes.size(); ++i) {
      if (t.attributes[i] == name) return static_cast<int>(i);
    }
    return -1;
  };
  const int id_col = attribute("Id");
  const bool guid_key = id_col >= 0 && static_cast<size_t>(id_col) < t.data_types.size() &&
                        t.data_types[id_col] == "guid";
  // Each source column's attribute: the lake's own columns come first, so a
  // source column named like one of them (an "Id" column) is found after them.
  auto report_differences = [&](const std::vector<std::pair<const char*, std::string>>& diffs) {
    bool values = false, version = false;
    for (const auto& [kind, message] : diffs) {
      (std::string_view(kind) == "version differences" ? version : values) = true;
      problem(kind, message);
    }
    if (version) ++t.source.version_differs;
    if (values) ++t.source.values_differ;
  };
  std::vector<int> column_attr;
  for (const auto& c : schema->columns) {
    int a = -1;
    for (size_t i = 3; i < t.attributes.size(); ++i) {
      if (t.attributes[i] == c.name) {
        a = static_cast<int>(i);
        break;
      }
    }
    // The key is the Id (compared above) whether or not it is also listed.
    if (a < 0 && static_cast<int>(column_attr.size()) != schema->key) {
      problem("source columns missing in model.json",
              t.name + ": source column " + c.name + " is not an attribute in model.json");
    }
    column_attr.push_back(a);
  }
  // Source rows whose keys render to one Id (GUID keys that differ only by
  // case): the lake can hold only one of them, the others are failed records
  // (lake-format.md). Found first, so that the lake's record is matched
  // against whichever of them it holds.
  std::unordered_map<std::string, int> renders;
  auto count = source.ReadAll(*schema, [&](const RowView& row) {
    ++renders[RenderKey(row.key, guid_key)];
    return Status::Ok();
  });
  if (!count) {
    problem("source", t.name + ": reading the source failed: " + count.message());
    return;
  }
  struct Candidate {
    int64_t version;
    std::vector<std::pair<const char*, std::string>> differences;  // (kind, message)
  };
  std::map<std::string, std::vector<Candidate>> colliding;
  auto read = source.ReadAll(*schema, [&](const RowView& row) {
    const std::string id = RenderKey(row.key, guid_key);
    auto it = t.state.find(id);
    if (it == t.state.end() && failed.count(id) > 0) {
      ++t.source.failed_records;  // left out by the writer, and it says so
      return Status::Ok();
    }
    if (it == t.state.end()) {
      ++t.source.missing_in_lake;
      problem("Ids missing in the lake", t.name + ": Id " + Quoted(id) + " (source version " +
                                             std::to_string(row.version) +
                                             ") is in the source but not live in the lake");
      return Status::Ok();
    }
    LakeRecord& r = it->second;
    r.in_source = true;
    Candidate c{row.version, {}};
    if (r.version != row.version) {
      c.differences.emplace_back("version differences",
                                 t.Location(r) + ": Id " + Quoted(id) + " has versionnumber " +
                                     std::to_string(r.version) + ", the source version " +
                                     std::to_string(row.version));
    }
    for (size_t k = 0; !r.fields.empty() && k < row.values.size() && k < column_attr.size(); ++k) {
      const int a = column_attr[k];
      if (a < 0) continue;
      std::string want;
      const std::string& type =
          static_cast<size_t>(a) < t.data_types.size() ? t.data_types[a] : std::string();
      const int scale =
          static_cast<size_t>(a) < t.scales.size() && t.scales[a] >= 0 ? t.scales[a] : 10;
      if (SameAsSource(type, scale, row.values[k], r.fields[a], r.nulls[a], &want)) continue;
      c.differences.emplace_back("value differences",
                                 t.Location(r) + ": Id " + Quoted(id) + ": attribute " +
                                     t.attributes[a] + " is " +
                                     (r.nulls[a] ? std::string("NULL") : Quoted(r.fields[a])) +
                                     ", the source's value reads back as " + want);
    }
    if (renders[id] > 1) {
      colliding[id].push_back(std::move(c));
    } else {
      report_differences(c.differences);
    }
    return Status::Ok();
  });
  for (auto& [id, candidates] : colliding) {
    // The lake's record is the one that matches; none matching: the first.
    size_t match = 0;
    for (size_t k = 0; k < candidates.size(); ++k) {
      if (candidates[k].differences.empty()) {
        match = k;
        break;
      }
    }
    report_differences(candidates[match].differences);
    for (size_t k = 0; k < candidates.size(); ++k) {
      if (k == match) continue;
      if (failed.count(id) > 0) {
        ++t.source.failed_records;
        continue;
      }
      ++t.source.missing_in_lake;
      problem("Ids missing in the lake",
              t.name + ": a source row (version " + std::to_string(candidates[k].version) +
                  ") is not in the lake: its key renders to Id " + Quoted(id) +
                  " like another row's (keys that differ only by case: a failed record)");
    }
  }
  if (!read) {
    problem("source", t.name + ": reading the source failed: " + read.message());
    return;
  }
  std::vector<const std::pair<const std::string, LakeRecord>*> extra;
  for (const auto& entry : t.state) {
    if (!entry.second.in_source) extra.push_back(&entry);
  }
  std::sort(extra.begin(), extra.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* e : extra) {
    ++t.source.extra_in_lake;
    problem("Ids extra in the lake", t.Location(e->second) + ": Id " + Quoted(e->first) +
                                         " is live in the lake but not in the source");
  }
  t.source.compared = true;
  for (const auto& [kind, count] : counts) {
    if (count > max_messages) {
      report.problems.push_back(t.name + ": ... and " + std::to_string(count - max_messages) +
                                " more " + kind);
    }
  }
}

}  // namespace

std::string TableReport::Location(const LakeRecord& r) const {
  const std::string file =
      r.file >= 0 && static_cast<size_t>(r.file) < partitions.size() ? partitions[r.file] : name;
  return file + ":" + std::to_string(r.line);
}

const TableReport* LakeReport::Find(const std::string& table) const {
  for (const auto& t : tables) {
    if (t.name == table) return &t;
  }
  return nullptr;
}

Result<LakeReport> VerifyLake(Env& env, const std::string& dir, const LakeVerifyOptions& options) {
  const auto info = StatOf(env, dir);
  if (!info || !info->is_dir) return Status::Error(dir + " is not a folder");
  std::unique_ptr<Source> source;
  std::optional<ProfileConfig> block = options.source_profile;
  if (!options.source_path.empty()) {
    if (!IsRegularFile(env, options.source_path)) {
      return Status::Error("source " + options.source_path + " is not a file");
    }
    block.emplace();  // a source block with only its type and path
    block->source_type = options.source_type;
    block->source_path = options.source_path;
  }
  if (block) {
    auto opener = SourceRegistry::Builtin().Opener(*block);
    if (!opener) return opener.status();
    auto opened = (*opener)();
    if (!opened) return opened.status();
    source = std::move(opened).value();
  }
  LakeReport report;
  report.path = dir;
  std::error_code ec;
  fs::path root = fs::absolute(dir, ec).lexically_normal();
  if (!root.has_filename()) root = root.parent_path();  // "lake/"
  Verifier(env, root, options, report).Run();
  if (source) CompareWithSource(*source, report, options);
  return report;
}

Result<LakeReport> VerifyLake(const std::string& dir, const LakeVerifyOptions& options) {
  return VerifyLake(Env::Default(), dir, options);
}

void CompareWithSource(Source& source, LakeReport& report, const LakeVerifyOptions& options) {
  for (auto& t : report.tables) {
    if (!t.snapshot) CompareTable(source, t, report, options);
  }
}

std::string LakeReportJson(const LakeReport& report) {
  ordered_json tables = ordered_json::array();
  for (const auto& t : report.tables) {
    ordered_json j{{"name", t.name},         {"mode", t.append_only ? "append-only" : "in-place"},
                   {"snapshot", t.snapshot}, {"rows", t.rows},
                   {"live", t.live},         {"duplicates", t.duplicates},
                   {"deleted", t.deleted},   {"partitions", t.partitions},
                   {"problems", t.problems}, {"ok", t.ok()}};
    j["source"] = t.source.compared ? ordered_json{{"missingInLake", t.source.missing_in_lake},
                                                   {"extraInLake", t.source.extra_in_lake},
                                                   {"versionDiffers", t.source.version_differs},
                                                   {"valuesDiffer", t.source.values_differ},
                                                   {"failedRecords", t.source.failed_records}}
                                    : ordered_json(nullptr);
    tables.push_back(std::move(j));
  }
  ordered_json out{{"path", report.path},
                   {"tables", std::move(tables)},
                   {"problems", report.problems},
                   {"problemCount", report.problem_count},
                   {"ok", report.ok()}};
  return out.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

std::string LakeReportText(const LakeReport& report) {
  size_t width = 0;
  for (const auto& t : report.tables) width = std::max(width, t.name.size());
  std::string out;
  for (const auto& t : report.tables) {
    std::string line = t.name + std::string(width - t.name.size(), ' ');
    line += t.append_only ? "  mode=append-only" : "  mode=in-place";
    if (t.snapshot) line += "  snapshot";
    line += "  rows=" + std::to_string(t.rows) + "  live=" + std::to_string(t.live) +
            "  duplicates=" + std::to_string(t.duplicates) +
            "  deleted=" + std::to_string(t.deleted);
    if (t.source.compared) {
      const auto& s = t.source;
      line += s.missing_in_lake + s.extra_in_lake + s.version_differs + s.values_differ == 0
                  ? std::string("  source=same")
                  : "  source=differs(missing=" + std::to_string(s.missing_in_lake) +
                        " extra=" + std::to_string(s.extra_in_lake) +
                        " version=" + std::to_string(s.version_differs) +
                        " values=" + std::to_string(s.values_differ) + ")";
      if (s.failed_records > 0) line += "  failed=" + std::to_string(s.failed_records);
    }
    line += t.ok() ? "  ok" : "  problems=" + std::to_string(t.problems);
    out += line + "\n";
  }
  for (const auto& p : report.problems) out += p + "\n";
  out += "lake " + report.path + ": " + std::to_string(report.tables.size()) +
         (report.tables.size() == 1 ? " table, " : " tables, ") +
         (report.ok() ? std::string("consistent")
                      : std::to_string(report.problem_count) +
                            (report.problem_count == 1 ? " inconsistency" : " inconsistencies")) +
         "\n";
  return out;
}

}  // namespace linkwatch::sync
