// SPDX-License-Identifier: Apache-2.0
#include "core/stats.hpp"

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

double NameStats::mean_cost(uint64_t Costs::*field) const {
  if (with_costs == 0) {
    return 0.0;
  }
  return static_cast<double>(cost_sums.*field) / static_cast<double>(with_costs);
}

void SpanStats::add(const Span &span) {
  auto [it, inserted] = by_name_.try_emplace(span.name);
  NameStats &s = it->second;
  if (inserted) {
    s.name = span.name;
  }
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
