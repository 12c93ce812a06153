// SPDX-License-Identifier: Apache-2.0
#include "exporters/utf8.hpp"

#include <cstdint>

namespace kernspan::exporters {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the well-formed sequence starting at s[i], or 0 when the bytes
// there are ill-formed; *consumed is then the maximal subpart to replace.
} // namespace

size_t utf8_sequence(std::string_view s, size_t i, size_t *consumed) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  *consumed = 1;
  if (b0 < 0x80) {
    return 1;
  }
  size_t need = 0;
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    lo = b0 == 0xE0 ? 0xA0 : 0x80; // no overlongs
    hi = b0 == 0xED ? 0x9F : 0xBF; // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    lo = b0 == 0xF0 ? 0x90 : 0x80; // no overlongs
    hi = b0 == 0xF4 ? 0x8F : 0xBF; // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k <= need; k++) {
    if (i + k >= s.size()) {
      return 0;
    }
    const auto b = static_cast<uint8_t>(s[i + k]);
    const uint8_t first_lo = k == 1 ? lo : uint8_t{0x80};
    const uint8_t first_hi = k == 1 ? hi : uint8_t{0xBF};
    if (b < first_lo || b > first_hi) {
      return 0;
    }
    *consumed = k + 1;
  }
  return need + 1;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t consumed = 0;
    const size_t n = utf8_sequence(s, i, &consumed);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  if (valid_utf8(s)) {
    return std::string(s);
  }
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    size_t consumed = 0;
    const size_t n = utf8_sequence(s, i, &consumed);
    if (n == 0) {
      out += kReplacement;
      i += consumed;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

} // namespace kernspan::exporters
