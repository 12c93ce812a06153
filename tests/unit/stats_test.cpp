// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <vector>

#include "core/distinct.hpp"
#include "core/stats.hpp"

namespace kernspan::core {
namespace {

Span make_span(const std::string &name, uint64_t start, uint64_t end) {
  Span s;
  s.name = name;
  s.start_unix_nano = start;
  s.end_unix_nano = end;
  return s;
}

TEST(SpanStats, EmptyHasNothing) {
  const SpanStats stats;
  EXPECT_EQ(stats.total_spans(), 0U);
  EXPECT_EQ(stats.total_incomplete(), 0U);
  EXPECT_FALSE(stats.any_costs());
  EXPECT_TRUE(stats.by_name().empty());
  EXPECT_EQ(stats.find("x"), nullptr);
}

TEST(SpanStats, NestedSpansAreIndependentEntries) {
  // request [0, 1000) contains parse [100, 400); they arrive child first.
  Span child = make_span("parse", 100, 400);
  child.parent_span_id = 1;
  child.depth = 1;
  child.has_costs = true;
  child.costs.cpu_ns = 200;
  child.costs.read_bytes = 1000;
  Span parent = make_span("request", 0, 1000);
  parent.span_id = 1;
  parent.has_costs = true;
  parent.costs.cpu_ns = 600;
  parent.costs.runq_ns = 100;
  parent.costs.read_bytes = 4096;
  Span other = make_span("parse", 2000, 2500);
  other.incomplete = true;

  SpanStats stats;
  stats.add(child);
  stats.add(parent);
  stats.add(other);

  EXPECT_EQ(stats.total_spans(), 3U);
  EXPECT_EQ(stats.total_incomplete(), 1U);
  EXPECT_TRUE(stats.any_costs());

  std::vector<std::string> names;
  for (const auto &[name, s] : stats.by_name()) {
    EXPECT_EQ(s.name, name);
    names.push_back(name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"parse", "request"}));

  const NameStats *req = stats.find("request");
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(req->count, 1U);
  EXPECT_EQ(req->incomplete, 0U);
  EXPECT_EQ(req->duration.sum(), 1000U); // not 1000 + 300
  EXPECT_EQ(req->with_costs, 1U);
  EXPECT_EQ(req->cost_sums.cpu_ns, 600U); // the child's 200 is not added
  EXPECT_EQ(req->cost_sums.runq_ns, 100U);
  EXPECT_EQ(req->cost_sums.read_bytes, 4096U);

  const NameStats *parse = stats.find("parse");
  ASSERT_NE(parse, nullptr);
  EXPECT_EQ(parse->count, 2U);
  EXPECT_EQ(parse->incomplete, 1U);
  EXPECT_EQ(parse->with_costs, 1U);
  EXPECT_EQ(parse->duration.sum(), 800U);
  EXPECT_EQ(parse->duration.min(), 300U);
  EXPECT_EQ(parse->duration.max(), 500U);
  EXPECT_EQ(parse->cost_sums.cpu_ns, 200U);
  EXPECT_EQ(parse->cost_sums.read_bytes, 1000U);
  EXPECT_DOUBLE_EQ(parse->mean_cost(&Costs::cpu_ns), 200.0); // over spans with costs
  EXPECT_DOUBLE_EQ(parse->mean_cost(&Costs::runq_ns), 0.0);
}

TEST(SpanStats, EveryCostFieldIsSummedIntoItself) {
  Span s = make_span("x", 0, 1);
  s.has_costs = true;
  uint64_t next = 1;
  for_each_cost(s.costs, [&](const char *, uint64_t &v) { v = next++; });
  ASSERT_EQ(next, 17U); // 16 fields
  SpanStats stats;
  stats.add(s);
  stats.add(s);
  uint64_t expected = 2;
  for_each_cost(stats.find("x")->cost_sums, [&](const char *key, uint64_t v) {
    EXPECT_EQ(v, expected) << key;
    expected += 2;
  });
}

TEST(SpanStats, MeanCostWithoutCostsIsZero) {
  SpanStats stats;
  stats.add(make_span("x", 0, 10));
  EXPECT_FALSE(stats.any_costs());
  EXPECT_EQ(stats.find("x")->with_costs, 0U);
  EXPECT_DOUBLE_EQ(stats.find("x")->mean_cost(&Costs::cpu_ns), 0.0);
}

TEST(SpanStats, NamesPastTheCapShareOneOverflowEntry) {
  SpanStats stats(2);
  for (const char *name : {"a", "b", "c", "d", "a", "c"}) {
    stats.add(make_span(name, 0, 10));
  }
  EXPECT_EQ(stats.by_name().size(), 3U);
  EXPECT_EQ(stats.find("a")->count, 2U);
  EXPECT_EQ(stats.find("b")->count, 1U);
  EXPECT_EQ(stats.find("c"), nullptr);
  EXPECT_EQ(stats.find(SpanStats::kOverflowName)->count, 3U);
  EXPECT_EQ(stats.overflow_spans(), 3U);
  EXPECT_EQ(stats.overflow_names_estimate(), 2U); // c and d
  EXPECT_EQ(stats.total_spans(), 6U);
  // The target's own "__overflow__" cannot open a row past the cap either.
  SpanStats named(1);
  named.add(make_span(SpanStats::kOverflowName, 0, 1));
  named.add(make_span("x", 0, 1));
  named.add(make_span("y", 0, 1));
  EXPECT_EQ(named.by_name().size(), 2U);
  EXPECT_EQ(named.find("x")->count, 1U);
  EXPECT_EQ(named.overflow_spans(), 2U);
}

TEST(SpanStats, AMillionDistinctNamesStayBounded) {
  SpanStats stats; // the default cap, --max-span-names' default
  ASSERT_EQ(stats.max_names(), 1000U);
  size_t rows_at_100k = 0;
  for (uint64_t i = 0; i < 1'000'000; i++) {
    stats.add(make_span("SELECT * FROM t WHERE id = " + std::to_string(i), 0, i));
    if (i == 99'999) {
      rows_at_100k = stats.by_name().size();
    }
  }
  EXPECT_EQ(rows_at_100k, 1001U);
  EXPECT_EQ(stats.by_name().size(), 1001U); // no growth from 100k to 1M names
  EXPECT_EQ(stats.overflow_spans(), 999'000U);
  EXPECT_NEAR(static_cast<double>(stats.overflow_names_estimate()), 999'000.0, 999'000.0 * 0.05);
  EXPECT_EQ(stats.find(SpanStats::kOverflowName)->count, 999'000U);
  EXPECT_EQ(stats.total_spans(), 1'000'000U);
  EXPECT_EQ(stats.find(SpanStats::kOverflowName)->duration.max(), 999'999U);
  EXPECT_NE(stats.find("SELECT * FROM t WHERE id = 999"), nullptr);
  EXPECT_EQ(stats.find("SELECT * FROM t WHERE id = 1000"), nullptr);
}

TEST(SpanStats, KernelAggregatesPastTheCapAreCountedBySpans) {
  SpanStats stats(1000);
  for (uint64_t i = 0; i < 1'000'000; i++) {
    SpanAggregate a;
    a.name = "fn" + std::to_string(i);
    a.count = 3;
    a.incomplete = 1;
    a.sum_ns = 30;
    a.max_ns = 20;
    a.slots[4] = 3;
    stats.add(a);
  }
  EXPECT_EQ(stats.by_name().size(), 1001U);
  EXPECT_EQ(stats.overflow_spans(), 3U * 999'000U);
  const NameStats *o = stats.find(SpanStats::kOverflowName);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->count, 3U * 999'000U);
  EXPECT_EQ(o->incomplete, 999'000U);
  EXPECT_EQ(o->kernel.sum_ns, 30U * 999'000U);
  EXPECT_EQ(stats.total_spans(), 3'000'000U);
  EXPECT_EQ(stats.total_incomplete(), 1'000'000U);
}

TEST(DistinctCount, EstimatesWithinAFewPercentInFixedMemory) {
  EXPECT_EQ(DistinctCount{}.estimate(), 0U);
  DistinctCount d;
  for (int round = 0; round < 3; round++) { // repeats count once
    for (int i = 0; i < 100; i++) {
      d.add("name" + std::to_string(i));
    }
  }
  EXPECT_NEAR(static_cast<double>(d.estimate()), 100.0, 2.0);
  for (const uint64_t n : {5'000ULL, 20'000ULL, 300'000ULL}) {
    DistinctCount big;
    for (uint64_t i = 0; i < n; i++) {
      big.add("/item/" + std::to_string(i * 7919));
    }
    EXPECT_NEAR(static_cast<double>(big.estimate()), static_cast<double>(n),
                static_cast<double>(n) * 0.05)
        << n;
  }
  static_assert(sizeof(DistinctCount) == 4096, "fixed memory, whatever is added");
}

TEST(DropCounts, AddKeepsOrderAndSums) {
  DropCounts d;
  EXPECT_EQ(d.total(), 0U);
  d.add("ringbuf", 3);
  d.add("span_stack", 0);
  d.add("ringbuf", 2);
  const std::vector<std::pair<std::string, uint64_t>> expected{{"ringbuf", 5}, {"span_stack", 0}};
  EXPECT_EQ(d.places, expected);
  EXPECT_EQ(d.total(), 5U);
}

} // namespace
} // namespace kernspan::core
