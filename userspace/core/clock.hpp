// SPDX-License-Identifier: Apache-2.0
// Kernel timestamps (bpf_ktime_get_ns, CLOCK_MONOTONIC) to Unix time, with
// one offset measured once at start-up.
#pragma once

#include <cstdint>

namespace kernspan::core {

class ClockOffset {
public:
  // An explicit offset (realtime - monotonic, in ns); for tests and replay.
  explicit ClockOffset(int64_t offset_ns, uint64_t uncertainty_ns = 0)
      : offset_ns_(offset_ns), uncertainty_ns_(uncertainty_ns) {}

  // Reads CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_REALTIME several times and
  // keeps the triple with the narrowest realtime bracket; the offset is the
  // bracket's midpoint minus the monotonic reading.
  static ClockOffset measure();

  // mono_ns + offset; clamps to 0 instead of going below the epoch.
  [[nodiscard]] uint64_t to_unix_ns(uint64_t mono_ns) const;

  [[nodiscard]] int64_t offset_ns() const { return offset_ns_; }
  // Half the width of the bracket the offset came from (0 if given).
  [[nodiscard]] uint64_t uncertainty_ns() const { return uncertainty_ns_; }

private:
  int64_t offset_ns_;
  uint64_t uncertainty_ns_;
};

} // namespace kernspan::core
