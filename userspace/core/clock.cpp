// SPDX-License-Identifier: Apache-2.0
#include "core/clock.hpp"

#include <ctime>
#include <limits>

namespace kernspan::core {

namespace {

int64_t read_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<int64_t>(ts.tv_nsec);
}

} // namespace

ClockOffset ClockOffset::measure() {
  constexpr int kTries = 5;
  int64_t best_width = std::numeric_limits<int64_t>::max();
  int64_t best_offset = 0;
  for (int i = 0; i < kTries; ++i) {
    const int64_t before = read_ns(CLOCK_REALTIME);
    const int64_t mono = read_ns(CLOCK_MONOTONIC);
    const int64_t after = read_ns(CLOCK_REALTIME);
    const int64_t width = after - before;
    // A negative width means realtime stepped back mid-read; skip it.
    if (width >= 0 && width < best_width) {
      best_width = width;
      best_offset = before + width / 2 - mono;
    }
  }
  if (best_width == std::numeric_limits<int64_t>::max()) {
    // Every bracket was broken by a clock step: take one plain reading.
    const int64_t real = read_ns(CLOCK_REALTIME);
    best_offset = real - read_ns(CLOCK_MONOTONIC);
    best_width = 0;
  }
  return ClockOffset(best_offset, static_cast<uint64_t>(best_width / 2));
}

uint64_t ClockOffset::to_unix_ns(uint64_t mono_ns) const {
  if (offset_ns_ >= 0) {
    return mono_ns + static_cast<uint64_t>(offset_ns_);
  }
  const uint64_t back = static_cast<uint64_t>(-(offset_ns_ + 1)) + 1;
  return mono_ns > back ? mono_ns - back : 0;
}

} // namespace kernspan::core
