// SPDX-License-Identifier: Apache-2.0
// Per-name aggregates of finished spans, and the named drop counters that
// the summary and /metrics show.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/histogram.hpp"
#include "core/span.hpp"

namespace kernspan::core {

struct NameStats {
  std::string name;
  uint64_t count = 0;
  uint64_t incomplete = 0;
  LatencyHistogram duration; // span.duration_ns() of every span
  uint64_t with_costs = 0;   // spans that had has_costs
  Costs cost_sums;           // field-wise sum over those spans

  // cost_sums field / with_costs, or 0 when no span had costs.
  [[nodiscard]] double mean_cost(uint64_t Costs::*field) const;
};

// Every span is its own entry: a parent's duration and costs include its
// children's time but are recorded independently of them.
class SpanStats {
public:
  void add(const Span &span);

  // Entries ordered by name (stable across runs).
  [[nodiscard]] const std::map<std::string, NameStats> &by_name() const { return by_name_; }
  // nullptr when no span of that name was seen.
  [[nodiscard]] const NameStats *find(const std::string &name) const;
  [[nodiscard]] uint64_t total_spans() const { return total_; }
  [[nodiscard]] uint64_t total_incomplete() const { return incomplete_; }
  [[nodiscard]] bool any_costs() const { return with_costs_ != 0; }

private:
  std::map<std::string, NameStats> by_name_;
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
