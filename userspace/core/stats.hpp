// SPDX-License-Identifier: Apache-2.0
// Per-name aggregates of finished spans, and the named drop counters that
// the summary and /metrics show.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/distinct.hpp"
#include "core/histogram.hpp"
#include "core/span.hpp"

namespace kernspan::core {

// One span name's aggregate as kept in the kernel (--mode stats): a log2
// histogram of durations (kLog2Slots slots, see log2_slot), sums and max.
struct SpanAggregate {
  std::string name;
  uint64_t count = 0;
  uint64_t incomplete = 0;
  uint64_t sum_ns = 0;
  uint64_t max_ns = 0;
  std::array<uint64_t, kLog2Slots> slots{};
  uint64_t with_costs = 0; // spans whose costs are in cost_sums
  Costs cost_sums;

  // Adds o's counts and sums; max of the maxima. The name is kept.
  void merge(const SpanAggregate &o);
};

struct NameStats {
  std::string name;
  uint64_t count = 0;
  uint64_t incomplete = 0;
  LatencyHistogram duration; // span.duration_ns() of every span seen as a record
  SpanAggregate kernel;      // spans aggregated in the kernel (--mode stats)
  uint64_t with_costs = 0;   // spans that had has_costs
  Costs cost_sums;           // field-wise sum over those spans

  // cost_sums field / with_costs, or 0 when no span had costs.
  [[nodiscard]] double mean_cost(uint64_t Costs::*field) const;
  // Duration quantile and max: from the records when there were any, else
  // from the kernel's log2 histogram (log2_quantile).
  [[nodiscard]] uint64_t quantile(double q) const;
  [[nodiscard]] uint64_t max_ns() const;
};

// Every span is its own entry: a parent's duration and costs include its
// children's time but are recorded independently of them.
//
// Names are chosen by the target, so the table is capped: once max_names
// distinct names have their own entry, spans of any other name are counted
// in one entry named kOverflowName (at most max_names + 1 entries, whatever
// the target sends). Spans themselves keep their names for the sinks.
class SpanStats {
public:
  static constexpr size_t kDefaultMaxNames = 1000; // --max-span-names
  static constexpr const char *kOverflowName = "__overflow__";

  explicit SpanStats(size_t max_names = kDefaultMaxNames) : max_names_(max_names) {}
  // Moves keep the map's nodes, which the index points into; a copy would not.
  SpanStats(const SpanStats &) = delete;
  SpanStats &operator=(const SpanStats &) = delete;
  SpanStats(SpanStats &&) noexcept = default;
  SpanStats &operator=(SpanStats &&) noexcept = default;
  ~SpanStats() = default;

  void add(const Span &span);
  // Adds a kernel aggregate (--mode stats) under its name.
  void add(const SpanAggregate &agg);

  [[nodiscard]] size_t max_names() const { return max_names_; }
  // Spans counted under kOverflowName because their name came after the cap.
  [[nodiscard]] uint64_t overflow_spans() const { return overflow_spans_; }
  // How many distinct names those spans had: an estimate (DistinctCount),
  // since keeping the names would be the unbounded table the cap prevents.
  [[nodiscard]] uint64_t overflow_names_estimate() const { return overflow_names_.estimate(); }

  // Entries ordered by name (stable across runs).
  [[nodiscard]] const std::map<std::string, NameStats> &by_name() const { return by_name_; }
  // nullptr when no span of that name was seen.
  [[nodiscard]] const NameStats *find(const std::string &name) const;
  [[nodiscard]] uint64_t total_spans() const { return total_; }
  [[nodiscard]] uint64_t total_incomplete() const { return incomplete_; }
  [[nodiscard]] bool any_costs() const { return with_costs_ != 0; }

private:
  // The entry for `name`, or the overflow entry when name is new and the
  // cap is reached (then `spans` more are counted as overflowed).
  NameStats &entry(const std::string &name, uint64_t spans);

  std::map<std::string, NameStats> by_name_;
  // The named entries of by_name_ by hash (map nodes do not move): a span's
  // entry is found without walking the ordered map.
  std::unordered_map<std::string_view, NameStats *> index_;
  size_t max_names_;
  size_t named_ = 0; // entries other than the overflow entry
  uint64_t overflow_spans_ = 0;
  DistinctCount overflow_names_;
  uint64_t total_ = 0;
  uint64_t incomplete_ = 0;
  uint64_t with_costs_ = 0;
};

// Drop counters by the place that dropped, in the order they were added.
struct DropCounts {
  std::vector<std::pair<std::string, uint64_t>> places;

  // Adds n to `place`, appending it if new.
  void add(const std::string &place, uint64_t n);
  [[nodiscard]] uint64_t total() const;
};

} // namespace kernspan::core
