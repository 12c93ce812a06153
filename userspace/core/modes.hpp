// SPDX-License-Identifier: Apache-2.0
// Pieces of the span modes that need no kernel: durations as the
// user writes them, and the --max-spans-per-second token bucket.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kernspan::core {

// "500us", "2ms", "1.5s", "250ns", "3m" or a plain number of nanoseconds,
// to nanoseconds. Units: ns, us (or µs), ms, s, m. A fraction is allowed
// with a unit (up to nanosecond precision: "1.0000000001s" is refused).
// nullopt on anything else, on a negative value or on overflow.
std::optional<uint64_t> parse_duration_ns(std::string_view text);

// At most `per_second` spans a second, in bursts of at most `per_second`:
// a bucket of that many tokens (full at first), refilled continuously at
// `per_second` tokens a second of span time (end times, so the result does
// not depend on when userspace happens to read the ring buffer). Exact
// integer arithmetic: tokens are kept in billionths.
class TokenBucket {
public:
  explicit TokenBucket(uint64_t per_second);

  // True (and one token spent) if a span ending at `now_ns` may pass. Time
  // that goes backwards (spans from different CPUs arrive a little out of
  // order) refills nothing.
  bool take(uint64_t now_ns);

private:
  static constexpr uint64_t kScale = 1'000'000'000; // billionths of a token
  uint64_t rate_;
  uint64_t capacity_; // per_second * kScale
  uint64_t tokens_;
  uint64_t last_ns_ = 0;
  bool started_ = false;
};

} // namespace kernspan::core
