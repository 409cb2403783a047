#include "agent/sync/destinations/lake_format.h"

#include <date/date.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include "agent/core/crypto.h"
#include "agent/core/text.h"
#include "agent/core/time_format.h"
#include "agent/core/utf8.h"
#include "agent/state/snapshot.h"

namespace linkwatch::sync::lake {
namespace {

// 0001-01-01T00:00:00Z up to 9999-12-31T23:59:59.9999999Z: what every reader
// (and the civil-date math) handles.
constexpr int64_t kMinSeconds = -62135596800LL;
constexpr int64_t kEndSeconds = 253402300800LL;  // 10000-01-01T00:00:00Z, excluded

struct Civil {
  int year;
  unsigned month, day;
  long long hour, minute, second;
};

Civil ToCivil(int64_t secs) {
  const long long days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  const long long sod = secs - days * 86400;
  const date::year_month_day ymd{date::sys_days{date::days{days}}};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          sod / 3600,
          (sod / 60) % 60,
          sod % 60};
}

// Whole seconds and microseconds of epoch seconds (rounded to the
// microsecond: what a REAL holds at today's epoch).
LakeTime FromEpoch(double epoch_seconds) {
  const long long us = std::llround(epoch_seconds * 1e6);
  const long long secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  return {secs, static_cast<int32_t>((us - secs * 1000000) * 10)};
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

// All of `text` read as a T by from_chars (no spaces, no leading "+"),
// or nothing when any of it is not.
template <typename T>
std::optional<T> ParseAll(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || p != end) return std::nullopt;
  return value;
}

inline bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

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

// --- Decimals ---------------------------------------------------------------
// Plain notation only ("-0.0001", never "-1e-04"): SQL text-to-decimal
// conversion rejects exponents. Built in `out` and cut back on failure.

constexpr const char* kDecimalRange = "a number out of the range of its declared DECIMAL(p,s)";

// Checks a plain decimal just appended at out[mark..]: integer digits within
// precision - scale.
RenderError CheckDecimalDigits(std::string& out, size_t mark, int precision, int scale) {
  size_t i = mark;
  if (i < out.size() && out[i] == '-') ++i;
  size_t int_digits = 0;
  for (; i < out.size() && IsDigit(out[i]); ++i) ++int_digits;
  if (int_digits == 1 && out[i - 1] == '0') int_digits = 0;
  if (static_cast<int>(int_digits) > precision - scale) {
    out.resize(mark);
    return kDecimalRange;
  }
  return nullptr;
}

// Drops trailing fraction zeros (and a bare '.') and a "-0".
void TrimDecimal(std::string& out, size_t mark) {
  if (out.find('.', mark) != std::string::npos) {
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
  }
  if (out.size() == mark + 2 && out[mark] == '-' && out[mark + 1] == '0') {
    out.erase(mark, 1);
  }
}

RenderError AppendDecimalDouble(std::string& out, double d, int precision, int scale) {
  if (!std::isfinite(d)) return "a NaN or infinite number in a decimal column";
  const size_t mark = out.size();
  char buf[400];  // the shortest fixed form of DBL_MAX has 309 digits
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  if (ec != std::errc()) return kDecimalRange;
  const char* dot = static_cast<const char*>(std::memchr(buf, '.', end - buf));
  if (dot != nullptr && end - dot - 1 > scale) {
    // More digits than the scale: a double's binary noise (0.1 + 0.2);
    // round at the declared scale.
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed, scale);
    if (r.ec != std::errc()) return kDecimalRange;
    end = r.ptr;
  }
  out.append(buf, end);
  TrimDecimal(out, mark);
  return CheckDecimalDigits(out, mark, precision, scale);
}

// A decimal held as text: "-12.50", "+1", ".5", "1e-4". Written exactly,
// normalised to plain notation; refused when it is not a number or does not
// fit the declared precision and scale (rounding it would change it).
RenderError AppendDecimalText(std::string& out, std::string_view s, int precision, int scale) {
  constexpr const char* kNotNumber = "text that is not a number in a decimal column";
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  const size_t int_start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  std::string_view int_part = s.substr(int_start, i - int_start);
  std::string_view frac_part;
  if (i < s.size() && s[i] == '.') {
    const size_t f = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    frac_part = s.substr(f, i - f);
  }
  if (int_part.empty() && frac_part.empty()) return kNotNumber;
  long long exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    auto [p, ec] = std::from_chars(s.data() + i + (i < s.size() && s[i] == '+'),
                                   s.data() + s.size(), exponent);
    if (ec != std::errc() || p != s.data() + s.size() || exponent > 400 || exponent < -400) {
      return kNotNumber;
    }
    i = s.size();
  }
  if (i != s.size()) return kNotNumber;
  // All significant digits, and where the point goes among them.
  while (!int_part.empty() && int_part.front() == '0') int_part.remove_prefix(1);
  while (!frac_part.empty() && frac_part.back() == '0') frac_part.remove_suffix(1);
  const long long point = static_cast<long long>(int_part.size()) + exponent;  // digits before it
  const long long total = static_cast<long long>(int_part.size() + frac_part.size());
  auto digit = [&](long long k) -> char {  // k-th digit of int_part + frac_part, '0' outside
    if (k < 0 || k >= total) return '0';
    return k < static_cast<long long>(int_part.size()) ? int_part[k]
                                                       : frac_part[k - int_part.size()];
  };
  // Leading zeros of the combined digits (an int_part of "" and frac "0005").
  long long first = 0;
  while (first < total && digit(first) == '0') ++first;
  if (first == total) {
    out += '0';
    return nullptr;
  }
  long long last = total - 1;
  while (last > first && digit(last) == '0') --last;
  const long long int_digits = std::max(0LL, point - first);
  const long long frac_digits = std::max(0LL, last + 1 - point);
  if (frac_digits > scale) {
    return "a decimal with more fraction digits than its declared scale";
  }
  if (int_digits > precision - scale) return kDecimalRange;
  if (negative) out += '-';
  if (int_digits == 0) {
    out += '0';
  } else {
    for (long long k = first; k < point; ++k) out += digit(k);
  }
  if (frac_digits > 0) {
    out += '.';
    for (long long k = point; k <= last; ++k) out += digit(k);
  }
  return nullptr;
}

RenderError AppendDecimalInt(std::string& out, int64_t v, int precision, int scale) {
  const size_t mark = out.size();
  AppendInt(out, v);
  return CheckDecimalDigits(out, mark, precision, scale);
}

// --- Base64 (only to find the blob a text key could also be) ----------------

bool DecodeBase64(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      if (in[i + k] == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = val(in[i + k])) < 0) {
        return false;
      }
    }
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>(n >> 16);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return true;
}

}  // namespace

// --- UTF-8 and CSV ----------------------------------------------------------

size_t AppendUtf8(std::string& out, std::string_view s) {
  const size_t n = s.size();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  // Fast path: eight ASCII bytes at a time.
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ULL) break;
    i += 8;
  }
  size_t start = 0;  // first byte not yet copied to out
  size_t replaced = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    const Utf8Sequence seq = Utf8At(s.substr(i));
    const size_t j = i + seq.length;
    const bool ok = seq.valid;
    if (ok) {
      i = j;
      continue;
    }
    // [i, j) is the maximal subpart of an ill-formed sequence (at least its
    // first byte): one U+FFFD, then go on at the byte that broke it.
    out.append(s.data() + start, i - start);
    out += "\xEF\xBF\xBD";
    ++replaced;
    i = j;
    start = i;
  }
  out.append(s.data() + start, n - start);
  return replaced;
}

bool IsValidUtf8(std::string_view text) {
  // Rare (keys, column names): the replacing pass into a scratch string.
  for (unsigned char c : text) {
    if (c >= 0x80) {
      std::string scratch;
      return AppendUtf8(scratch, text) == 0;
    }
  }
  return true;
}

void AppendCsvField(std::string& out, std::string_view text) {
  bool plain = !text.empty();
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

void AppendTextField(std::string& out, std::string_view text, RenderStats& stats) {
  bool quote = text.empty();
  for (char c : text) {
    if (c == ',' || c == '"' || c == '\n' || c == '\r') {
      quote = true;
      break;
    }
  }
  size_t replaced = 0;
  if (!quote) {
    replaced = AppendUtf8(out, text);
  } else {
    out += '"';
    // A quote is ASCII, so it never sits inside a multi-byte sequence:
    // splitting at quotes replaces exactly what the whole text would.
    size_t from = 0;
    for (size_t q; (q = text.find('"', from)) != std::string_view::npos; from = q + 1) {
      replaced += AppendUtf8(out, text.substr(from, q - from));
      out += "\"\"";
    }
    replaced += AppendUtf8(out, text.substr(from));
    out += '"';
  }
  if (replaced > 0) ++stats.invalid_text;
}

// --- Datetimes ----------------------------------------------------------------

void AppendSinkTime(std::string& out, double epoch_seconds) {
  const Civil c = ToCivil(FromEpoch(epoch_seconds).seconds);
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

void AppendCreatedOnTime(std::string& out, LakeTime t) {
  const Civil c = ToCivil(t.seconds);
  AppendDate(out, c);
  out += 'T';
  AppendClock(out, c);
  out += '.';
  AppendInt(out, t.ticks, 7);  // 100 ns ticks, as .NET writes them
  out += "+00:00";
}

void AppendCreatedOnTime(std::string& out, double epoch_seconds) {
  AppendCreatedOnTime(out, FromEpoch(epoch_seconds));
}

void AppendIsoTime(std::string& out, LakeTime t) {
  const Civil c = ToCivil(t.seconds);
  AppendDate(out, c);
  out += 'T';
  AppendClock(out, c);
  if (t.ticks > 0) {
    out += '.';
    const size_t mark = out.size();
    AppendInt(out, t.ticks, 7);
    while (out.size() > mark + 1 && out.back() == '0') out.pop_back();
  }
  out += 'Z';
}

void AppendIsoTime(std::string& out, double epoch_seconds) {
  // Whole seconds: the lake's own stamps (snapshot names, sync times).
  AppendIsoTime(out, LakeTime{FromEpoch(epoch_seconds).seconds, 0});
}

std::string PartitionName(double epoch_seconds, Partitioning partitioning) {
  const Civil c = ToCivil(FromEpoch(epoch_seconds).seconds);
  std::string out;
  AppendInt(out, c.year, 4);
  if (partitioning == Partitioning::kMonth) {
    out += '-';
    AppendInt(out, c.month, 2);
  }
  return out;
}

std::optional<LakeTime> LakeTimeOf(const Value& v) {
  auto from_double = [](double t) -> std::optional<LakeTime> {
    if (!std::isfinite(t) || t < static_cast<double>(kMinSeconds) ||
        t >= static_cast<double>(kEndSeconds)) {
      return std::nullopt;
    }
    LakeTime lt = FromEpoch(t);
    if (lt.seconds >= kEndSeconds) return std::nullopt;
    return lt;
  };
  switch (v.kind) {
    case Value::Kind::kInt:
      if (v.i < kMinSeconds || v.i >= kEndSeconds) return std::nullopt;
      return LakeTime{v.i, 0};
    case Value::Kind::kReal:
      return from_double(v.d);
    case Value::Kind::kText: {
      const std::string_view text = v.text;
      // The fraction digits come from the text ("…:59.1234567"): a double
      // cannot hold 100 ns at today's epoch. Cut them out, parse the rest
      // (whole seconds, exact), keep the first seven digits.
      char buf[64];
      std::string_view whole = text;
      int32_t ticks = 0;
      if (text.size() > 20 && text.size() <= sizeof buf && text[19] == '.' &&
          (text[10] == 'T' || text[10] == ' ') && IsDigit(text[20])) {
        size_t j = 20;
        int digits = 0;
        for (; j < text.size() && IsDigit(text[j]); ++j) {
          if (digits < 7) {
            ticks = ticks * 10 + (text[j] - '0');
            ++digits;
          }
        }
        for (; digits < 7; ++digits) ticks *= 10;
        std::memcpy(buf, text.data(), 19);
        std::memcpy(buf + 19, text.data() + j, text.size() - j);
        whole = std::string_view(buf, 19 + text.size() - j);
      }
      if (auto t = ParseDateTime(whole); t.ok()) {
        const double secs = std::floor(*t);
        if (secs < static_cast<double>(kMinSeconds) || secs >= static_cast<double>(kEndSeconds)) {
          return std::nullopt;
        }
        return LakeTime{static_cast<int64_t>(secs), ticks};
      }
      // Unix seconds stored as text (a TEXT column holding a number).
      if (auto d = ParseAll<double>(text)) return from_double(*d);
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::optional<double> DateTimeOf(const Value& v) {
  if (v.kind == Value::Kind::kReal) {
    if (auto t = LakeTimeOf(v)) return v.d;
    return std::nullopt;
  }
  if (auto t = LakeTimeOf(v)) return static_cast<double>(t->seconds) + t->ticks / 1e7;
  return std::nullopt;
}

// --- Ids --------------------------------------------------------------------

bool IsGuid(std::string_view s) {
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

RenderError RenderId(const Value& key, const SourceColumn& column, std::string& out) {
  out.clear();
  if (column.type == ValueType::kGuid) {
    if (key.kind != Value::Kind::kText) {
      if (key.kind == Value::Kind::kInt) {
        AppendInt(out, key.i);
      } else if (key.kind == Value::Kind::kReal) {
        AppendDouble(out, key.d);
      } else if (key.kind == Value::Kind::kBlob) {
        out = Base64Encode(key.text);
      }
      return "a key that is not a GUID in a key column declared as a GUID";
    }
    AppendUtf8(out, key.text);
    if (!IsGuid(key.text)) return "a key that is not a GUID in a key column declared as a GUID";
    bool lower = false, upper = false;
    for (char c : key.text) {
      lower |= c >= 'a' && c <= 'f';
      upper |= c >= 'A' && c <= 'F';
    }
    // Only the two cases can be checked against each other in the source
    // (KeyTwins); a GUID in mixed case is refused rather than risk a merge.
    if (lower && upper) return "a GUID key in mixed case (neither lower nor upper case)";
    for (char& c : out) {
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c | 0x20);
    }
    return nullptr;
  }
  switch (key.kind) {
    case Value::Kind::kInt:
      AppendInt(out, key.i);
      break;
    case Value::Kind::kReal:
      AppendDouble(out, key.d);
      break;
    case Value::Kind::kText:
      // Replacing ill-formed bytes would make different keys one Id.
      if (AppendUtf8(out, key.text) > 0) return "a key that is not valid UTF-8";
      break;
    case Value::Kind::kBlob:
      out = Base64Encode(key.text);
      break;
    case Value::Kind::kNull:
      return "a NULL key";
  }
  return nullptr;
}

namespace {
enum class Affinity { kText, kNumeric, kNone };
// SQLite's column affinity of a declared type ("Determination Of Column
// Affinity"); INTEGER, REAL and NUMERIC act alike here.
Affinity AffinityOf(std::string_view declared) {
  const std::string t = AsciiToUpper(declared);
  auto has = [&](const char* w) { return t.find(w) != std::string::npos; };
  if (has("INT")) return Affinity::kNumeric;
  if (has("CHAR") || has("CLOB") || has("TEXT")) return Affinity::kText;
  if (has("BLOB") || t.empty()) return Affinity::kNone;
  return Affinity::kNumeric;
}
}  // namespace

void KeyTwins(const Value& key, const SourceColumn& column, std::string_view id,
              std::vector<StoredValue>& out) {
  out.clear();
  // What the column's affinity lets coexist: TEXT affinity turns numbers into
  // text, the numeric ones turn numeric text into numbers (and integral reals
  // into integers, or integers into reals); only blobs keep their bytes
  // everywhere. So only twins that can exist are looked up.
  const Affinity affinity = AffinityOf(column.declared_type);
  const bool numbers_and_text = affinity == Affinity::kNone;
  if (column.type == ValueType::kGuid) {
    // RenderId accepted it: a GUID in one case; its twin is the other case.
    if (key.kind != Value::Kind::kText) return;
    StoredValue twin;
    twin.kind = Value::Kind::kText;
    twin.bytes.assign(id);
    bool has_letter = false;
    for (char& c : twin.bytes) {
      if (c >= 'a' && c <= 'f') {
        has_letter = true;
        c = static_cast<char>(c & ~0x20);
      }
    }
    if (!has_letter) return;
    if (twin.bytes == key.text) twin.bytes.assign(id);  // the key is the upper form
    out.push_back(std::move(twin));
    return;
  }
  const bool is_number = key.kind == Value::Kind::kInt || key.kind == Value::Kind::kReal;
  // A number is text in a TEXT column and text that reads as a number is a
  // number elsewhere: only a blob meets text in every column.
  if (key.kind != Value::Kind::kText && (numbers_and_text || key.kind == Value::Kind::kBlob)) {
    StoredValue t;
    t.kind = Value::Kind::kText;
    t.bytes.assign(id);
    out.push_back(std::move(t));
  }
  if (key.kind != Value::Kind::kInt &&
      (numbers_and_text || (affinity == Affinity::kNumeric && !is_number))) {
    std::string canon;
    if (auto i = ParseAll<int64_t>(id); i && (AppendInt(canon, *i), canon == id)) {
      StoredValue t;
      t.kind = Value::Kind::kInt;
      t.i = *i;
      out.push_back(std::move(t));
    }
  }
  if (key.kind != Value::Kind::kReal &&
      (numbers_and_text || (affinity == Affinity::kNumeric && !is_number))) {
    std::string canon;
    if (auto d = ParseAll<double>(id); d && (AppendDouble(canon, *d), canon == id)) {
      StoredValue t;
      t.kind = Value::Kind::kReal;
      t.d = *d;
      out.push_back(std::move(t));
    }
  }
  if (key.kind != Value::Kind::kBlob) {
    StoredValue t;
    t.kind = Value::Kind::kBlob;
    if (DecodeBase64(id, t.bytes) && Base64Encode(t.bytes) == id) out.push_back(std::move(t));
  }
}

// --- Values -----------------------------------------------------------------

void DecimalShape(std::string_view declared, int& precision, int& scale) {
  precision = 38;
  scale = 10;
  const size_t open = declared.find('(');
  if (open == std::string_view::npos) return;
  int p = 0, s = 0;
  const char* b = declared.data() + open + 1;
  const char* e = declared.data() + declared.size();
  while (b < e && *b == ' ') ++b;
  auto r = std::from_chars(b, e, p);
  if (r.ec != std::errc()) return;
  b = r.ptr;
  while (b < e && *b == ' ') ++b;
  if (b < e && *b == ',') {
    ++b;
    while (b < e && *b == ' ') ++b;
    auto r2 = std::from_chars(b, e, s);
    if (r2.ec != std::errc()) return;
    b = r2.ptr;
    while (b < e && *b == ' ') ++b;
  }
  if (b >= e || *b != ')') return;
  // What a reader's DECIMAL takes; anything else keeps the defaults.
  if (p < 1 || p > 38 || s < 0 || s > p) return;
  precision = p;
  scale = s;
}

RenderError AppendValue(std::string& out, const SourceColumn& column, const Value& v,
                        bool is_createdon, RenderStats& stats) {
  if (v.is_null()) return nullptr;
  switch (column.type) {
    case ValueType::kString:
      switch (v.kind) {
        case Value::Kind::kInt:
          AppendInt(out, v.i);
          return nullptr;
        case Value::Kind::kReal:
          AppendDouble(out, v.d);
          return nullptr;
        case Value::Kind::kBlob:
          if (v.text.empty()) {
            out += "\"\"";  // an empty BLOB is not NULL either
          } else {
            out += Base64Encode(v.text);  // base64 needs no quoting
          }
          return nullptr;
        default:
          AppendTextField(out, v.text, stats);
          return nullptr;
      }
    case ValueType::kDateTime: {
      if (v.kind == Value::Kind::kBlob) return "a blob in a datetime column";
      auto t = LakeTimeOf(v);
      if (!t) {
        return v.kind == Value::Kind::kText
                   ? "text that is not a datetime (ISO-8601 or Unix seconds) in years 1-9999"
                   : "a number that is not a datetime in years 1-9999";
      }
      if (is_createdon) {
        AppendCreatedOnTime(out, *t);
      } else {
        AppendIsoTime(out, *t);
      }
      return nullptr;
    }
    case ValueType::kBoolean:
      if (v.kind == Value::Kind::kInt || v.kind == Value::Kind::kReal) {
        const double d = v.kind == Value::Kind::kInt ? static_cast<double>(v.i) : v.d;
        if (d != 0 && d != 1) return "a number other than 0 or 1 in a boolean column";
        out += d != 0 ? "True" : "False";
        return nullptr;
      }
      if (v.kind == Value::Kind::kText) {
        if (v.text == "1" || EqualsIgnoreCase(v.text, "true")) {
          out += "True";
          return nullptr;
        }
        if (v.text == "0" || EqualsIgnoreCase(v.text, "false")) {
          out += "False";
          return nullptr;
        }
        return "text other than true/false/1/0 in a boolean column";
      }
      return "a blob in a boolean column";
    case ValueType::kGuid:
      if (v.kind == Value::Kind::kText && IsGuid(v.text)) {
        for (char c : v.text) out += (c >= 'A' && c <= 'F') ? static_cast<char>(c | 0x20) : c;
        return nullptr;
      }
      return "a value that is not a GUID in a column declared as a GUID";
    case ValueType::kInt64:
      switch (v.kind) {
        case Value::Kind::kInt:
          AppendInt(out, v.i);
          return nullptr;
        case Value::Kind::kReal:
          // 2^63 is exact as a double; anything from it on does not fit.
          if (auto i = state::WholeInt64(v.d)) {
            AppendInt(out, *i);
            return nullptr;
          }
          return "a fractional or out-of-range number in an integer column";
        case Value::Kind::kText: {
          if (auto i = ParseAll<int64_t>(v.text)) {
            AppendInt(out, *i);
            return nullptr;
          }
          return "text that is not an integer in an integer column";
        }
        default:
          return "a blob in an integer column";
      }
    case ValueType::kDouble:
      switch (v.kind) {
        case Value::Kind::kInt:
          AppendInt(out, v.i);
          return nullptr;
        case Value::Kind::kReal:
          AppendDouble(out, v.d);
          return nullptr;
        case Value::Kind::kText: {
          if (auto d = ParseAll<double>(v.text)) {
            AppendDouble(out, *d);
            return nullptr;
          }
          return "text that is not a number in a floating-point column";
        }
        default:
          return "a blob in a floating-point column";
      }
    case ValueType::kDecimal:
      switch (v.kind) {
        case Value::Kind::kInt:
          return AppendDecimalInt(out, v.i, column.precision, column.scale);
        case Value::Kind::kReal:
          return AppendDecimalDouble(out, v.d, column.precision, column.scale);
        case Value::Kind::kText:
          return AppendDecimalText(out, v.text, column.precision, column.scale);
        default:
          return "a blob in a decimal column";
      }
  }
  return nullptr;
}

}  // namespace linkwatch::sync::lake
