// SPDX-License-Identifier: Apache-2.0
// UTF-8 repair shared by the exporters: span names and attribute strings come
// from the traced program's memory and may hold any bytes.
#pragma once

#include <string>
#include <string_view>

namespace kernspan::exporters {

// True if `s` is well-formed UTF-8 (no overlongs, surrogates or code points
// above U+10FFFF).
bool valid_utf8(std::string_view s);

// The valid UTF-8 sequence at s[i]: its length, or 0 when it is invalid; then
// *consumed is the length of the maximal invalid subpart, which is replaced
// by one U+FFFD (Unicode's recommended practice).
size_t utf8_sequence(std::string_view s, size_t i, size_t *consumed);

// `s` with every maximal ill-formed subsequence replaced by U+FFFD (the
// Unicode "substitution of maximal subparts" practice); valid input is
// returned unchanged.
std::string sanitize_utf8(std::string_view s);

} // namespace kernspan::exporters
