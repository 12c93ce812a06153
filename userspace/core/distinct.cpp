// SPDX-License-Identifier: Apache-2.0
#include "core/distinct.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>

namespace kernspan::core {
namespace {

// The standard library's string hash, its bits mixed (splitmix64's
// finalizer) so that every bit of the result depends on every input bit.
uint64_t hash64(std::string_view s) {
  uint64_t x = std::hash<std::string_view>{}(s);
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

} // namespace

void DistinctCount::add(std::string_view s) {
  const uint64_t h = hash64(s);
  const size_t index = h >> (64 - kBits);
  // Position of the first 1 in the remaining bits (64 - kBits + 1 if none).
  const uint64_t rest = h << kBits;
  const auto rank = static_cast<uint8_t>(rest == 0 ? 64 - kBits + 1 : std::countl_zero(rest) + 1);
  registers_[index] = std::max(registers_[index], rank);
}

uint64_t DistinctCount::estimate() const {
  const auto m = static_cast<double>(registers_.size());
  double sum = 0;
  size_t zeros = 0;
  for (const uint8_t r : registers_) {
    sum += std::ldexp(1.0, -static_cast<int>(r));
    zeros += r == 0 ? 1 : 0;
  }
  const double alpha = 0.7213 / (1 + 1.079 / m);
  double e = alpha * m * m / sum;
  if (e <= 2.5 * m && zeros != 0) {
    e = m * std::log(m / static_cast<double>(zeros)); // few: linear counting
  }
  return static_cast<uint64_t>(std::llround(e));
}

} // namespace kernspan::core
