// SPDX-License-Identifier: Apache-2.0
#include "core/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace kernspan::core {

namespace {

constexpr unsigned kExactBits = 7; // log2(kExactLimit)
constexpr unsigned kSubBits = 6;   // log2(kSubBuckets)
__extension__ using U128 = unsigned __int128;

} // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBucketCount, 0) {}

size_t LatencyHistogram::bucket_index(uint64_t v) {
  if (v < kExactLimit) {
    return static_cast<size_t>(v);
  }
  const unsigned k = static_cast<unsigned>(std::bit_width(v)) - 1; // >= 7
  const unsigned shift = k - kSubBits;
  const uint64_t sub = (v >> shift) - kSubBuckets;
  return kExactLimit + (k - kExactBits) * kSubBuckets + static_cast<size_t>(sub);
}

uint64_t LatencyHistogram::bucket_lower(size_t index) {
  if (index < kExactLimit) {
    return index;
  }
  const size_t rel = index - kExactLimit;
  const unsigned k = static_cast<unsigned>(rel / kSubBuckets) + kExactBits;
  const uint64_t sub = rel % kSubBuckets;
  return (kSubBuckets + sub) << (k - kSubBits);
}

uint64_t LatencyHistogram::bucket_width(size_t index) {
  if (index < kExactLimit) {
    return 1;
  }
  const unsigned k = static_cast<unsigned>((index - kExactLimit) / kSubBuckets) + kExactBits;
  return uint64_t{1} << (k - kSubBits);
}

uint64_t LatencyHistogram::bucket_representative(size_t index) {
  if (index < kExactLimit) {
    return index;
  }
  return bucket_lower(index) + bucket_width(index) / 2;
}

void LatencyHistogram::record(uint64_t ns) {
  ++buckets_[bucket_index(ns)];
  if (count_ == 0) {
    min_ = ns;
    max_ = ns;
  } else {
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }
  ++count_;
  sum_ += ns;
}

void LatencyHistogram::merge(const LatencyHistogram &other) {
  if (other.count_ == 0) {
    return;
  }
  for (size_t i = 0; i < kBucketCount; ++i) {
    buckets_[i] += other.buckets_[i];
  }
  min_ = count_ ? std::min(min_, other.min_) : other.min_;
  max_ = count_ ? std::max(max_, other.max_) : other.max_;
  count_ += other.count_;
  sum_ += other.sum_;
}

double LatencyHistogram::mean() const {
  return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0;
}

uint64_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) {
    return 0;
  }
  if (!(q > 0.0)) { // also NaN
    q = 0.0;
  }
  if (q >= 1.0) {
    return max_;
  }
  const double exact = q * static_cast<double>(count_);
  auto rank = static_cast<uint64_t>(std::ceil(exact - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      return std::clamp(bucket_representative(i), min_, max_);
    }
  }
  return max_;
}

unsigned log2_slot(uint64_t v) {
  return v == 0 ? 0 : static_cast<unsigned>(std::bit_width(v)) - 1;
}

uint64_t log2_slot_upper_le(unsigned slot) {
  if (slot >= kLog2Slots - 1) {
    return UINT64_MAX;
  }
  return (uint64_t{2} << slot) - 1;
}

uint64_t log2_quantile(std::span<const uint64_t> slots, double q, uint64_t max) {
  const size_t n = std::min(slots.size(), kLog2Slots);
  uint64_t count = 0;
  size_t last = 0;
  for (size_t i = 0; i < n; ++i) {
    count += slots[i];
    last = slots[i] != 0 ? i : last;
  }
  if (count == 0) {
    return 0;
  }
  if (!(q > 0.0)) { // also NaN
    q = 0.0;
  }
  if (q >= 1.0) {
    return max != 0 ? max : log2_slot_upper_le(static_cast<unsigned>(last));
  }
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count) - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count);
  uint64_t below = 0;
  for (size_t i = 0; i < n; ++i) {
    if (below + slots[i] >= rank) {
      const uint64_t lo = i == 0 ? 0 : uint64_t{1} << i;
      const uint64_t hi = log2_slot_upper_le(static_cast<unsigned>(i));
      const uint64_t v = lo + static_cast<uint64_t>(U128{hi - lo} * (rank - below) / slots[i]);
      return max != 0 ? std::min(v, max) : v;
    }
    below += slots[i];
  }
  return max;
}

std::vector<Log2Bucket> log2_to_cumulative(std::span<const uint64_t> slots) {
  const size_t n = std::min(slots.size(), kLog2Slots);
  std::vector<Log2Bucket> out;
  out.reserve(n);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < n; ++i) {
    cumulative += slots[i];
    out.push_back(Log2Bucket{log2_slot_upper_le(static_cast<unsigned>(i)), cumulative});
  }
  return out;
}

} // namespace kernspan::core
