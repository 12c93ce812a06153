// SPDX-License-Identifier: Apache-2.0
#include "exporters/format.hpp"

#include <array>
#include <cstdio>

namespace kernspan::exporters {

namespace {

struct Unit {
  uint64_t size;
  const char *suffix;
};

// Tenths of `value / unit`, rounded half up, exact and without overflow
// (units are at most 2^40, so rem * 10 fits).
uint64_t tenths(uint64_t value, uint64_t unit) {
  const uint64_t rem10 = (value % unit) * 10;
  return (value / unit) * 10 + rem10 / unit + ((rem10 % unit) * 2 >= unit ? 1 : 0);
}

template <size_t N>
std::string format_scaled(uint64_t value, const char *base_suffix,
                          const std::array<Unit, N> &units) {
  char buf[48];
  if (value < units[0].size) {
    std::snprintf(buf, sizeof buf, "%llu%s", static_cast<unsigned long long>(value), base_suffix);
    return buf;
  }
  size_t u = 0;
  while (u + 1 < N && value >= units[u + 1].size) {
    ++u;
  }
  uint64_t t = tenths(value, units[u].size);
  // Rounding can reach 1000.0 of this unit; show it as 1.0 of the next.
  const uint64_t next_ratio = u + 1 < N ? units[u + 1].size / units[u].size : 0;
  if (next_ratio != 0 && t >= next_ratio * 10) {
    ++u;
    t = tenths(value, units[u].size);
  }
  std::snprintf(buf, sizeof buf, "%llu.%llu%s", static_cast<unsigned long long>(t / 10),
                static_cast<unsigned long long>(t % 10), units[u].suffix);
  return buf;
}

} // namespace

std::string format_duration(uint64_t ns) {
  static constexpr std::array<Unit, 3> kUnits{
      {{1'000, "us"}, {1'000'000, "ms"}, {1'000'000'000, "s"}}};
  return format_scaled(ns, "ns", kUnits);
}

std::string format_bytes(uint64_t bytes) {
  static constexpr std::array<Unit, 4> kUnits{{{uint64_t{1} << 10, "KiB"},
                                               {uint64_t{1} << 20, "MiB"},
                                               {uint64_t{1} << 30, "GiB"},
                                               {uint64_t{1} << 40, "TiB"}}};
  return format_scaled(bytes, "B", kUnits);
}

std::string printable(const std::string &s) {
  std::string out = s;
  for (char &c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      c = '?';
    }
  }
  return out;
}

} // namespace kernspan::exporters
