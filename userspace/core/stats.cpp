// SPDX-License-Identifier: Apache-2.0
#include "core/stats.hpp"

#include <algorithm>
#include <array>

namespace kernspan::core {

namespace {

void add_costs(Costs &sum, const Costs &c) {
  // for_each_cost visits in a fixed order, so walking both structs in turn
  // pairs up the same fields without naming each one here.
  std::array<uint64_t, 32> values{};
  size_t n = 0;
  for_each_cost(c, [&](const char *, uint64_t v) { values[n++] = v; });
  size_t i = 0;
  for_each_cost(sum, [&](const char *, uint64_t &acc) { acc += values[i++]; });
}

} // namespace

void SpanAggregate::merge(const SpanAggregate &o) {
  count += o.count;
  incomplete += o.incomplete;
  sum_ns += o.sum_ns;
  max_ns = std::max(max_ns, o.max_ns);
  for (size_t i = 0; i < slots.size(); ++i) {
    slots[i] += o.slots[i];
  }
  with_costs += o.with_costs;
  add_costs(cost_sums, o.cost_sums);
}

uint64_t NameStats::quantile(double q) const {
  if (duration.count() != 0 || kernel.count == 0) {
    return duration.quantile(q);
  }
  return log2_quantile(kernel.slots, q, kernel.max_ns);
}

uint64_t NameStats::max_ns() const {
  return std::max(duration.max(), kernel.max_ns);
}

NameStats &SpanStats::entry(const std::string &name, uint64_t spans) {
  if (auto it = index_.find(name); it != index_.end()) {
    return *it->second;
  }
  // A new name (or the target's own "__overflow__", which must not get
  // past the cap by looking like the overflow entry).
  const bool over = named_ >= max_names_ || name == kOverflowName;
  if (over) {
    overflow_spans_ += spans;
    overflow_names_.add(name);
  } else {
    named_++;
  }
  std::string key = over ? std::string(kOverflowName) : name;
  auto [it, inserted] = by_name_.try_emplace(key);
  if (inserted) {
    it->second.name = std::move(key);
  }
  if (!over) {
    index_.emplace(it->first, &it->second); // keyed by the node's own string
  }
  return it->second;
}

void SpanStats::add(const SpanAggregate &agg) {
  NameStats &s = entry(agg.name, agg.count);
  s.kernel.merge(agg);
  s.count += agg.count;
  total_ += agg.count;
  s.incomplete += agg.incomplete;
  incomplete_ += agg.incomplete;
  s.with_costs += agg.with_costs;
  with_costs_ += agg.with_costs;
  add_costs(s.cost_sums, agg.cost_sums);
}

double NameStats::mean_cost(uint64_t Costs::*field) const {
  if (with_costs == 0) {
    return 0.0;
  }
  return static_cast<double>(cost_sums.*field) / static_cast<double>(with_costs);
}

void SpanStats::add(const Span &span) {
  NameStats &s = entry(span.name, 1);
  ++s.count;
  ++total_;
  s.duration.record(span.duration_ns());
  if (span.incomplete) {
    ++s.incomplete;
    ++incomplete_;
  }
  if (span.has_costs) {
    ++s.with_costs;
    ++with_costs_;
    add_costs(s.cost_sums, span.costs);
  }
}

const NameStats *SpanStats::find(const std::string &name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

void DropCounts::add(const std::string &place, uint64_t n) {
  for (auto &[name, count] : places) {
    if (name == place) {
      count += n;
      return;
    }
  }
  places.emplace_back(place, n);
}

uint64_t DropCounts::total() const {
  uint64_t t = 0;
  for (const auto &p : places) {
    t += p.second;
  }
  return t;
}

} // namespace kernspan::core
