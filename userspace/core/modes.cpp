// SPDX-License-Identifier: Apache-2.0
#include "core/modes.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace kernspan::core {

std::optional<uint64_t> parse_duration_ns(std::string_view text) {
  size_t i = 0;
  uint64_t whole = 0;
  size_t digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const auto d = static_cast<uint64_t>(text[i] - '0');
    if (whole > (UINT64_MAX - d) / 10) {
      return std::nullopt;
    }
    whole = whole * 10 + d;
    ++i;
    ++digits;
  }
  uint64_t frac = 0; // in units of 10^-frac_digits
  size_t frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (frac_digits == 18) {
        return std::nullopt;
      }
      frac = frac * 10 + static_cast<uint64_t>(text[i] - '0');
      ++frac_digits;
      ++i;
    }
    if (frac_digits == 0) {
      return std::nullopt;
    }
  }
  if (digits == 0) {
    return std::nullopt;
  }
  const std::string_view unit = text.substr(i);
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 7> kUnits = {{
      {"", 1},
      {"ns", 1},
      {"us", 1'000},
      {"\u00b5s", 1'000},
      {"ms", 1'000'000},
      {"s", 1'000'000'000},
      {"m", 60'000'000'000},
  }};
  const auto *u =
      std::find_if(kUnits.begin(), kUnits.end(), [&](const auto &p) { return p.first == unit; });
  if (u == kUnits.end()) {
    return std::nullopt;
  }
  const uint64_t mult = u->second;
  if (whole > UINT64_MAX / mult) {
    return std::nullopt;
  }
  uint64_t ns = whole * mult;
  if (frac_digits != 0) {
    // frac / 10^frac_digits of the unit, which must come out whole in ns.
    uint64_t pow10 = 1;
    for (size_t k = 0; k < frac_digits; ++k) {
      pow10 *= 10;
    }
    __extension__ using U128 = unsigned __int128;
    const U128 scaled = U128{frac} * mult;
    if (scaled % pow10 != 0) {
      return std::nullopt; // finer than a nanosecond
    }
    const auto extra = static_cast<uint64_t>(scaled / pow10);
    if (ns > UINT64_MAX - extra) {
      return std::nullopt;
    }
    ns += extra;
  }
  return ns;
}

TokenBucket::TokenBucket(uint64_t per_second)
    : rate_(per_second), capacity_(per_second * kScale), tokens_(capacity_) {}

bool TokenBucket::take(uint64_t now_ns) {
  if (!started_) {
    started_ = true;
    last_ns_ = now_ns;
  } else if (now_ns > last_ns_) {
    // A second refills the bucket whole: no need to multiply more.
    const uint64_t elapsed = std::min<uint64_t>(now_ns - last_ns_, kScale);
    tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
    last_ns_ = now_ns;
  }
  if (tokens_ < kScale) {
    return false;
  }
  tokens_ -= kScale;
  return true;
}

} // namespace kernspan::core
