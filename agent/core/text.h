// Small text helpers shared by every layer (config labels, HTTP headers,
// choice labels, lake column names, SQL type names, expression keywords):
// the one home for ASCII case handling, whitespace trimming and
// percent-encoding, so no file keeps its own copy. Header-only, stateless, thread-safe.
//
// All of them are ASCII-only on purpose: names, labels, header fields and
// keywords are never locale-dependent and never Unicode case folded; bytes
// outside A-Z/a-z are left as they are.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace linkwatch {

inline char AsciiToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; }
inline char AsciiToUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c & ~0x20) : c; }

inline std::string AsciiToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiToLower(c);
  return out;
}
inline std::string AsciiToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiToUpper(c);
  return out;
}

// ASCII case-insensitive equality.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiToLower(x) == AsciiToLower(y);
         });
}

// ASCII case-insensitive ordering (byte order of the lowercased texts), for
// maps keyed by header names.
inline bool LessIgnoreCase(std::string_view a, std::string_view b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return static_cast<unsigned char>(AsciiToLower(x)) <
           static_cast<unsigned char>(AsciiToLower(y));
  });
}

// Space, tab, newline, vertical tab, form feed, carriage return (what
// std::isspace accepts in the "C" locale).
inline bool IsAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// `s` without leading and trailing ASCII whitespace (a view into `s`).
inline std::string_view StripAsciiWhitespace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 3986 percent-encoding: unreserved characters (A-Z a-z 0-9 - . _ ~)
// stay, every other byte becomes %XX. For URL path segments and
// application/x-www-form-urlencoded values ("+1555" -> "%2B1555").
inline std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

}  // namespace linkwatch
