// Small text helpers shared by every layer (config labels, HTTP headers,
// choice labels, lake column names). Header-only, stateless, thread-safe.
#pragma once

#include <algorithm>
#include <string_view>

namespace linkwatch {

// ASCII case-insensitive equality (names, labels, header fields: never
// locale-dependent, never Unicode case folding).
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) {
             return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
           };
           return lower(x) == lower(y);
         });
}

}  // namespace linkwatch
