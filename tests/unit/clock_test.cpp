// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <ctime>
#include <limits>

#include "core/clock.hpp"

namespace kernspan::core {
namespace {

int64_t now_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

TEST(ClockOffset, PositiveOffsetAdds) {
  const ClockOffset c(1'700'000'000'000'000'000);
  EXPECT_EQ(c.offset_ns(), 1'700'000'000'000'000'000);
  EXPECT_EQ(c.to_unix_ns(0), 1'700'000'000'000'000'000U);
  EXPECT_EQ(c.to_unix_ns(123'456'789), 1'700'000'000'123'456'789U);
}

TEST(ClockOffset, NegativeOffsetSubtractsAndClampsAtEpoch) {
  const ClockOffset c(-10);
  EXPECT_EQ(c.to_unix_ns(25), 15U);
  EXPECT_EQ(c.to_unix_ns(10), 0U);
  EXPECT_EQ(c.to_unix_ns(5), 0U);
}

TEST(ClockOffset, MostNegativeOffsetDoesNotOverflow) {
  const ClockOffset c(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(c.to_unix_ns((uint64_t{1} << 63) + 7), 7U);
  EXPECT_EQ(c.to_unix_ns(7), 0U);
}

TEST(ClockOffset, ExplicitOffsetHasGivenUncertainty) {
  EXPECT_EQ(ClockOffset(5).uncertainty_ns(), 0U);
  EXPECT_EQ(ClockOffset(5, 40).uncertainty_ns(), 40U);
}

TEST(ClockOffset, MeasuredOffsetMapsMonotonicNowToRealtimeNow) {
  const ClockOffset c = ClockOffset::measure();
  EXPECT_LT(c.uncertainty_ns(), 1'000'000U); // a bracket is a few syscalls wide
  const int64_t before = now_ns(CLOCK_REALTIME);
  const int64_t mono = now_ns(CLOCK_MONOTONIC);
  const int64_t after = now_ns(CLOCK_REALTIME);
  const auto unix_ns = static_cast<int64_t>(c.to_unix_ns(static_cast<uint64_t>(mono)));
  // Generous slack for a loaded machine; a wrong sign or unit is off by years.
  constexpr int64_t kSlack = 100'000'000;
  EXPECT_GE(unix_ns, before - kSlack);
  EXPECT_LE(unix_ns, after + kSlack);
}

} // namespace
} // namespace kernspan::core
