// UTF-8 well-formedness (Unicode Table 3-7: no overlongs, no surrogates,
// nothing above U+10FFFF), the one home for the lake writer's U+FFFD
// replacement and the rule lexer's messages. (lake verify keeps its own
// reader on purpose: it must not share the writer's mistakes.) Header-only,
// stateless, thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace linkwatch {

struct Utf8Sequence {
  size_t length = 0;  // bytes of the sequence, or of the maximal ill-formed subpart (>= 1)
  bool valid = false;
};

// The sequence at the start of a non-empty `s`. When it is ill-formed,
// `length` is its maximal subpart, which Unicode's "substitution of maximal
// subparts" replaces with one U+FFFD.
inline Utf8Sequence Utf8At(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return {1, true};
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c == 0xE0) {
    len = 3, lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    len = 3;
  } else if (c == 0xED) {
    len = 3, hi = 0x9F;
  } else if (c == 0xF0) {
    len = 4, lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    len = 4;
  } else if (c == 0xF4) {
    len = 4, hi = 0x8F;
  } else {
    return {1, false};  // a continuation byte, C0, C1 or F5..FF
  }
  for (size_t k = 1; k < len; ++k) {
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (k >= s.size() || b(k) < l || b(k) > h) return {k, false};
  }
  return {len, true};
}

}  // namespace linkwatch
