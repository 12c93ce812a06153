// SPDX-License-Identifier: Apache-2.0
// Latency histograms: a log-linear one for durations seen in userspace, and
// the meaning of the kernel's log2 slots, defined once here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kernspan::core {

// Fixed-memory log-linear histogram of nanosecond values.
//
// Buckets:
//   - values 0..127 each have their own bucket (exact);
//   - a value v >= 128 with k = floor(log2 v) falls into one of 64 equal
//     sub-buckets of [2^k, 2^(k+1)), each 2^(k-6) wide.
// A bucket is never wider than 1/64 of its lower bound, so its midpoint is
// within 1/128 (< 1%) of any value in it.
//
// quantile(q), q clamped to [0, 1]:
//   - no samples: 0;
//   - q == 1: the exact max;
//   - otherwise rank = max(1, ceil(q * count)) (nearest rank; q * count is
//     taken within 1e-9 so 0.07 * 100 is rank 7), the bucket is the first
//     whose cumulative count reaches rank, and the result is that bucket's
//     representative clamped to [min, max]. The representative is the value
//     itself for exact buckets and lower + width / 2 otherwise.
// Example: 1..1000 once each gives p50 = 502 (bucket [500, 504)),
// p90 = 900 ([896, 904)), p99 = 988 ([984, 992)), p100 = 1000.
class LatencyHistogram {
public:
  static constexpr unsigned kExactLimit = 128; // values below are exact
  static constexpr unsigned kSubBuckets = 64;  // per power of two above
  static constexpr size_t kBucketCount = kExactLimit + (64 - 7) * kSubBuckets;

  LatencyHistogram();

  void record(uint64_t ns);
  void merge(const LatencyHistogram &other);

  [[nodiscard]] uint64_t count() const { return count_; }
  [[nodiscard]] uint64_t sum() const { return sum_; }
  [[nodiscard]] uint64_t min() const { return count_ ? min_ : 0; }
  [[nodiscard]] uint64_t max() const { return max_; }
  [[nodiscard]] double mean() const;
  [[nodiscard]] uint64_t quantile(double q) const;

  // Bucket geometry, public so tests and renderers can reason about it.
  static size_t bucket_index(uint64_t v);
  static uint64_t bucket_lower(size_t index);
  static uint64_t bucket_width(size_t index);
  static uint64_t bucket_representative(size_t index);

private:
  std::vector<uint64_t> buckets_; // kBucketCount entries, allocated once
  uint64_t count_ = 0;
  uint64_t sum_ = 0; // wraps after ~584 years of total duration
  uint64_t min_ = 0;
  uint64_t max_ = 0;
};

// The kernel's log2 histograms (bcc style): slot i counts values v with
// floor(log2 v) == i, i.e. [2^i, 2^(i+1)); slot 0 also takes v == 0.
// Slot i therefore holds values <= 2^(i+1) - 1, its Prometheus `le` bound.
constexpr size_t kLog2Slots = 64;

// The slot a value goes to (mirrors the BPF side's log2l).
unsigned log2_slot(uint64_t v);
// Inclusive upper bound of slot i: 2^(i+1) - 1 (UINT64_MAX for slot 63).
uint64_t log2_slot_upper_le(unsigned slot);

struct Log2Bucket {
  uint64_t upper_le = 0; // every counted value is <= upper_le
  uint64_t count = 0;    // cumulative: values in this slot and all below
  bool operator==(const Log2Bucket &) const = default;
};

// Quantile q (clamped to [0, 1]) of a log2 histogram, given per-slot counts
// (at most kLog2Slots read) and the exact max when known:
//   - no values: 0; q == 1: max (or the last non-empty slot's upper bound
//     when max is 0, i.e. unknown);
//   - otherwise rank = max(1, ceil(q * count)) (nearest rank, q * count taken
//     within 1e-9), the slot is the first whose cumulative count reaches
//     rank, and the value is interpolated linearly inside that slot's range
//     [lo, hi] (lo = 2^i, 0 for slot 0; hi = 2^(i+1) - 1) by the rank's place
//     among the slot's n values: lo + (hi - lo) * (rank - below) / n,
//     rounded down, then clamped to max when max is known.
// Example: slots {10: 4} (four values in [1024, 2047]): p25 = 1279
// (1024 + 1023 * 1 / 4), p50 = 1535, p100 = max.
uint64_t log2_quantile(std::span<const uint64_t> slots, double q, uint64_t max = 0);

// Per-slot counts to cumulative `le` buckets, one per slot given (so the
// set of buckets is stable between scrapes). The +Inf bucket equals the last
// count and is left to the renderer. At most kLog2Slots slots are read.
std::vector<Log2Bucket> log2_to_cumulative(std::span<const uint64_t> slots);

} // namespace kernspan::core
