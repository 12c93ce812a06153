// SPDX-License-Identifier: Apache-2.0
// How many distinct strings went by, in fixed memory: a HyperLogLog
// estimate (Flajolet et al. 2007) over 4096 one-byte registers, about 1.6%
// standard error, exact enough to say how many names a cap turned away.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace kernspan::core {

class DistinctCount {
public:
  void add(std::string_view s);
  // The estimated number of distinct strings added (0 if none).
  [[nodiscard]] uint64_t estimate() const;

private:
  static constexpr unsigned kBits = 12;
  std::array<uint8_t, size_t{1} << kBits> registers_{};
};

} // namespace kernspan::core
