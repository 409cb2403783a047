#include "agent/sync/destinations/lake_format.h"

#include <date/date.h>

#include <cctype>
#include <charconv>
#include <cmath>

#include "agent/core/crypto.h"
#include "agent/core/time_format.h"

namespace linkwatch::sync::lake {
namespace {

struct Civil {
  int year;
  unsigned month, day;
  long long hour, minute, second, micros;
};

Civil ToCivil(double epoch_seconds) {
  const long long us = std::llround(epoch_seconds * 1e6);
  const long long secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  const long long micros = us - secs * 1000000;
  const long long days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  const long long sod = secs - days * 86400;
  const date::year_month_day ymd{date::sys_days{date::days{days}}};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          sod / 3600,
          (sod / 60) % 60,
          sod % 60,
          micros};
}

void AppendInt(std::string& out, long long v, int width = 0) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  for (int i = static_cast<int>(end - buf); i < width; ++i) out += '0';
  out.append(buf, end);
}

void AppendDate(std::string& out, const Civil& c) {
  AppendInt(out, c.year, 4);
  out += '-';
  AppendInt(out, c.month, 2);
  out += '-';
  AppendInt(out, c.day, 2);
}

void AppendClock(std::string& out, const Civil& c) {
  AppendInt(out, c.hour, 2);
  out += ':';
  AppendInt(out, c.minute, 2);
  out += ':';
  AppendInt(out, c.second, 2);
}

inline bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool LooksLikeGuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!IsHex(s[i])) {
      return false;
    }
  }
  return true;
}

void AppendDouble(std::string& out, double d) {
  // What .NET, Spark and Java's parseDouble all read.
  if (std::isnan(d)) {
    out += "NaN";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  (void)ec;
  out.append(buf, end);
}

}  // namespace

void AppendCsvField(std::string& out, std::string_view text) {
  bool plain = true;
  for (char c : text) {
    if (c == ',' || c == '"' || c == '\n' || c == '\r') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.append(text);
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void AppendSinkTime(std::string& out, double epoch_seconds) {
  const Civil c = ToCivil(epoch_seconds);
  AppendInt(out, c.month);
  out += '/';
  AppendInt(out, c.day);
  out += '/';
  AppendInt(out, c.year);
  out += ' ';
  AppendInt(out, c.hour % 12 == 0 ? 12 : c.hour % 12);
  out += ':';
  AppendInt(out, c.minute, 2);
  out += ':';
  AppendInt(out, c.second, 2);
  out += c.hour < 12 ? " AM" : " PM";
}

void AppendCreatedOnTime(std::string& out, double epoch_seconds) {
  const Civil c = ToCivil(epoch_seconds);
  AppendDate(out, c);
  out += 'T';
  AppendClock(out, c);
  out += '.';
  AppendInt(out, c.micros * 10, 7);  // 100 ns ticks, as .NET writes them
  out += "+00:00";
}

void AppendIsoTime(std::string& out, double epoch_seconds) {
  const Civil c = ToCivil(epoch_seconds);
  AppendDate(out, c);
  out += 'T';
  AppendClock(out, c);
  out += 'Z';
}

std::string PartitionName(double epoch_seconds, Partitioning partitioning) {
  const Civil c = ToCivil(epoch_seconds);
  std::string out;
  AppendInt(out, c.year, 4);
  if (partitioning == Partitioning::kMonth) {
    out += '-';
    AppendInt(out, c.month, 2);
  }
  return out;
}

std::string RenderId(const Value& key) {
  std::string out;
  switch (key.kind) {
    case Value::Kind::kInt:
      AppendInt(out, key.i);
      break;
    case Value::Kind::kReal:
      AppendDouble(out, key.d);
      break;
    case Value::Kind::kText:
      out.assign(key.text);
      if (LooksLikeGuid(out)) {
        for (char& c : out) {
          if (c >= 'A' && c <= 'F') c = static_cast<char>(c | 0x20);
        }
      }
      break;
    case Value::Kind::kBlob:
      out = Base64Encode(key.text);
      break;
    case Value::Kind::kNull:
      break;
  }
  return out;
}

std::optional<double> DateTimeOf(const Value& v) {
  // 0001-01-01T00:00:00Z up to 9999-12-31T23:59:59Z: what every reader (and
  // the civil-date math) handles; anything else is not a usable datetime.
  auto in_range = [](double t) -> std::optional<double> {
    if (std::isfinite(t) && t >= -62135596800.0 && t < 253402300800.0) return t;
    return std::nullopt;
  };
  switch (v.kind) {
    case Value::Kind::kInt:
      return in_range(static_cast<double>(v.i));
    case Value::Kind::kReal:
      return in_range(v.d);
    case Value::Kind::kText: {
      if (auto t = ParseDateTime(v.text); t.ok()) return in_range(*t);
      // Unix seconds stored as text (a TEXT column holding a number).
      double d = 0;
      auto [end, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), d);
      if (ec == std::errc() && end == v.text.data() + v.text.size() && !v.text.empty()) {
        return in_range(d);
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

void AppendValue(std::string& out, const SourceColumn& column, const Value& v, bool is_createdon) {
  if (v.is_null()) return;
  if (v.kind == Value::Kind::kBlob) {
    out += Base64Encode(v.text);  // base64 needs no quoting
    return;
  }
  switch (column.type) {
    case ValueType::kDateTime:
      if (auto t = DateTimeOf(v)) {
        if (is_createdon) {
          AppendCreatedOnTime(out, *t);
        } else {
          AppendIsoTime(out, *t);
        }
        return;
      }
      break;  // kept as written
    case ValueType::kBoolean:
      if (v.kind == Value::Kind::kInt || v.kind == Value::Kind::kReal) {
        out += (v.kind == Value::Kind::kInt ? v.i != 0 : v.d != 0) ? "True" : "False";
        return;
      }
      if (v.text == "1" || v.text == "true" || v.text == "True" || v.text == "TRUE") {
        out += "True";
        return;
      }
      if (v.text == "0" || v.text == "false" || v.text == "False" || v.text == "FALSE") {
        out += "False";
        return;
      }
      break;
    case ValueType::kGuid:
      if (v.kind == Value::Kind::kText) {
        AppendCsvField(out, RenderId(v));
        return;
      }
      break;
    default:
      break;
  }
  switch (v.kind) {
    case Value::Kind::kInt:
      AppendInt(out, v.i);
      break;
    case Value::Kind::kReal:
      AppendDouble(out, v.d);
      break;
    default:
      AppendCsvField(out, v.text);
  }
}

}  // namespace linkwatch::sync::lake
