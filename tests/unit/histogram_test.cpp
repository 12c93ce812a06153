// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/histogram.hpp"

namespace kernspan::core {
namespace {

using H = LatencyHistogram;

LatencyHistogram range(uint64_t first, uint64_t last) {
  LatencyHistogram h;
  for (uint64_t v = first; v <= last; ++v) {
    h.record(v);
  }
  return h;
}

TEST(LatencyHistogram, BucketGeometry) {
  EXPECT_EQ(H::kBucketCount, 3776U);
  EXPECT_EQ(H::bucket_index(0), 0U);
  EXPECT_EQ(H::bucket_index(127), 127U);
  EXPECT_EQ(H::bucket_index(128), 128U);
  EXPECT_EQ(H::bucket_index(129), 128U);
  EXPECT_EQ(H::bucket_index(130), 129U);
  EXPECT_EQ(H::bucket_index(255), 191U);
  EXPECT_EQ(H::bucket_index(256), 192U);
  EXPECT_EQ(H::bucket_index(UINT64_MAX), H::kBucketCount - 1);

  EXPECT_EQ(H::bucket_lower(128), 128U);
  EXPECT_EQ(H::bucket_width(128), 2U);
  EXPECT_EQ(H::bucket_lower(192), 256U);
  EXPECT_EQ(H::bucket_width(192), 4U);
  EXPECT_EQ(H::bucket_representative(127), 127U);
  EXPECT_EQ(H::bucket_representative(192), 258U);
  EXPECT_EQ(H::bucket_lower(H::kBucketCount - 1), 0xfe00000000000000ULL);
  EXPECT_EQ(H::bucket_width(H::kBucketCount - 1), uint64_t{1} << 57);
}

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGaps) {
  EXPECT_EQ(H::bucket_lower(0), 0U);
  for (size_t i = 0; i + 1 < H::kBucketCount; ++i) {
    ASSERT_EQ(H::bucket_lower(i) + H::bucket_width(i), H::bucket_lower(i + 1)) << i;
  }
  const size_t last = H::kBucketCount - 1;
  EXPECT_EQ(H::bucket_lower(last) + (H::bucket_width(last) - 1), UINT64_MAX);
}

TEST(LatencyHistogram, RepresentativeWithinOnePercent) {
  std::vector<uint64_t> values;
  for (uint64_t v = 1; v < 100'000; ++v) {
    values.push_back(v);
  }
  for (uint64_t v = 100'000; v < (uint64_t{1} << 62); v = v * 3 + 7) {
    values.push_back(v);
    values.push_back(v - 1);
  }
  values.push_back(UINT64_MAX);
  for (uint64_t v : values) {
    const size_t i = H::bucket_index(v);
    ASSERT_LE(H::bucket_lower(i), v) << v;
    ASSERT_LE(v - H::bucket_lower(i), H::bucket_width(i) - 1) << v;
    const double rep = static_cast<double>(H::bucket_representative(i));
    const double err = std::fabs(rep - static_cast<double>(v)) / static_cast<double>(v);
    ASSERT_LT(err, 0.01) << v;
  }
}

TEST(LatencyHistogram, EmptyIsAllZero) {
  const LatencyHistogram h;
  EXPECT_EQ(h.count(), 0U);
  EXPECT_EQ(h.sum(), 0U);
  EXPECT_EQ(h.min(), 0U);
  EXPECT_EQ(h.max(), 0U);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.quantile(0.5), 0U);
  EXPECT_EQ(h.quantile(1.0), 0U);
}

TEST(LatencyHistogram, OneToThousandExactStats) {
  const auto h = range(1, 1000);
  EXPECT_EQ(h.count(), 1000U);
  EXPECT_EQ(h.sum(), 500'500U);
  EXPECT_EQ(h.min(), 1U);
  EXPECT_EQ(h.max(), 1000U);
  EXPECT_DOUBLE_EQ(h.mean(), 500.5);
}

TEST(LatencyHistogram, OneToThousandQuantiles) {
  const auto h = range(1, 1000);
  EXPECT_EQ(h.quantile(0.0), 1U);     // rank 1
  EXPECT_EQ(h.quantile(0.001), 1U);   // rank 1
  EXPECT_EQ(h.quantile(0.1), 100U);   // rank 100, exact bucket
  EXPECT_EQ(h.quantile(0.5), 502U);   // rank 500 in [500, 504)
  EXPECT_EQ(h.quantile(0.9), 900U);   // rank 900 in [896, 904)
  EXPECT_EQ(h.quantile(0.99), 988U);  // rank 990 in [984, 992)
  EXPECT_EQ(h.quantile(0.999), 996U); // rank 999 in [992, 1000)
  EXPECT_EQ(h.quantile(1.0), 1000U);  // exact max
}

TEST(LatencyHistogram, RankToleratesFloatingPointNoise) {
  // 0.07 * 100 is 7.000000000000001 in doubles; the rank is still 7.
  const auto h = range(1, 100);
  EXPECT_EQ(h.quantile(0.07), 7U);
  EXPECT_EQ(h.quantile(0.29), 29U);
}

TEST(LatencyHistogram, OutOfRangeQuantiles) {
  const auto h = range(1, 1000);
  EXPECT_EQ(h.quantile(-1.0), 1U);
  EXPECT_EQ(h.quantile(std::numeric_limits<double>::quiet_NaN()), 1U);
  EXPECT_EQ(h.quantile(2.0), 1000U);
}

TEST(LatencyHistogram, RepresentativeClampedToMinAndMax) {
  LatencyHistogram above;
  above.record(1000); // bucket [1000, 1008), midpoint 1004
  EXPECT_EQ(above.quantile(0.5), 1000U);
  LatencyHistogram below;
  below.record(997); // bucket [992, 1000), midpoint 996
  EXPECT_EQ(below.quantile(0.5), 997U);
  LatencyHistogram top;
  top.record(UINT64_MAX);
  EXPECT_EQ(top.quantile(0.5), UINT64_MAX);
  EXPECT_EQ(top.min(), UINT64_MAX);
}

TEST(LatencyHistogram, ZeroIsRecorded) {
  LatencyHistogram h;
  h.record(0);
  h.record(0);
  h.record(10);
  EXPECT_EQ(h.count(), 3U);
  EXPECT_EQ(h.min(), 0U);
  EXPECT_EQ(h.quantile(0.5), 0U);
  EXPECT_EQ(h.quantile(0.9), 10U);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverything) {
  auto low = range(1, 500);
  const auto high = range(501, 1000);
  low.merge(high);
  const auto all = range(1, 1000);
  EXPECT_EQ(low.count(), all.count());
  EXPECT_EQ(low.sum(), all.sum());
  EXPECT_EQ(low.min(), 1U);
  EXPECT_EQ(low.max(), 1000U);
  for (double q : {0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0}) {
    EXPECT_EQ(low.quantile(q), all.quantile(q)) << q;
  }
}

TEST(LatencyHistogram, MergeWithEmptySides) {
  LatencyHistogram empty;
  const auto h = range(5, 9);
  empty.merge(h);
  EXPECT_EQ(empty.count(), 5U);
  EXPECT_EQ(empty.min(), 5U); // not the empty side's 0
  EXPECT_EQ(empty.max(), 9U);
  auto copy = range(5, 9);
  copy.merge(LatencyHistogram{});
  EXPECT_EQ(copy.count(), 5U);
  EXPECT_EQ(copy.min(), 5U);
  EXPECT_EQ(copy.sum(), 35U);
}

TEST(Log2Slots, SlotOfValue) {
  EXPECT_EQ(log2_slot(0), 0U);
  EXPECT_EQ(log2_slot(1), 0U);
  EXPECT_EQ(log2_slot(2), 1U);
  EXPECT_EQ(log2_slot(3), 1U);
  EXPECT_EQ(log2_slot(4), 2U);
  EXPECT_EQ(log2_slot(1023), 9U);
  EXPECT_EQ(log2_slot(1024), 10U);
  EXPECT_EQ(log2_slot(UINT64_MAX), 63U);
}

TEST(Log2Slots, UpperLeBounds) {
  EXPECT_EQ(log2_slot_upper_le(0), 1U);
  EXPECT_EQ(log2_slot_upper_le(1), 3U);
  EXPECT_EQ(log2_slot_upper_le(9), 1023U);
  EXPECT_EQ(log2_slot_upper_le(62), (uint64_t{1} << 63) - 1);
  EXPECT_EQ(log2_slot_upper_le(63), UINT64_MAX);
}

TEST(Log2Slots, EveryValueFitsItsSlotBoundsOnly) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{7}, uint64_t{8},
                     uint64_t{1000}, uint64_t{1} << 40, (uint64_t{1} << 40) - 1, UINT64_MAX}) {
    const unsigned s = log2_slot(v);
    EXPECT_LE(v, log2_slot_upper_le(s)) << v;
    if (s > 0) {
      EXPECT_GT(v, log2_slot_upper_le(s - 1)) << v;
    }
  }
}

TEST(Log2Slots, CumulativeLeBuckets) {
  const std::vector<uint64_t> slots{3, 0, 2, 5};
  const std::vector<Log2Bucket> expected{{1, 3}, {3, 3}, {7, 5}, {15, 10}};
  EXPECT_EQ(log2_to_cumulative(slots), expected);
  EXPECT_TRUE(log2_to_cumulative({}).empty());
}

TEST(Log2Slots, CumulativeReadsAtMostSixtyFourSlots) {
  const std::vector<uint64_t> slots(70, 1);
  const auto out = log2_to_cumulative(slots);
  ASSERT_EQ(out.size(), 64U);
  EXPECT_EQ(out.back().upper_le, UINT64_MAX);
  EXPECT_EQ(out.back().count, 64U);
}

} // namespace
} // namespace kernspan::core
