// SPDX-License-Identifier: Apache-2.0
// The userspace halves of the modes: quantiles from the kernel's
// log2 histograms, --min-duration parsing, the --max-spans-per-second
// bucket, and stats-mode aggregates in the summary and /metrics.
#include "core/histogram.hpp"
#include "core/modes.hpp"
#include "core/stats.hpp"
#include "exporters/prometheus.hpp"
#include "exporters/summary.hpp"

#include <array>
#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace kernspan {
namespace {

using core::log2_quantile;

std::vector<uint64_t> slots_with(std::initializer_list<std::pair<size_t, uint64_t>> set) {
  std::vector<uint64_t> s(core::kLog2Slots, 0);
  for (const auto &[i, n] : set) {
    s[i] = n;
  }
  return s;
}

TEST(Log2Quantile, EmptyIsZero) {
  EXPECT_EQ(log2_quantile(slots_with({}), 0.5), 0U);
  EXPECT_EQ(log2_quantile({}, 0.99, 123), 0U);
}

TEST(Log2Quantile, InterpolatesInsideTheSlot) {
  const auto s = slots_with({{10, 4}});     // four values in [1024, 2047]
  EXPECT_EQ(log2_quantile(s, 0.25), 1279U); // 1024 + 1023 * 1 / 4
  EXPECT_EQ(log2_quantile(s, 0.50), 1535U); // 1024 + 1023 * 2 / 4
  EXPECT_EQ(log2_quantile(s, 0.75), 1791U);
  EXPECT_EQ(log2_quantile(s, 0.99), 2047U); // rank 4: the slot's top
  EXPECT_EQ(log2_quantile(s, 1.0), 2047U);  // max unknown: the slot's top
}

TEST(Log2Quantile, ClampedToAKnownMax) {
  const auto s = slots_with({{10, 4}});
  EXPECT_EQ(log2_quantile(s, 0.50, 1500), 1500U);
  EXPECT_EQ(log2_quantile(s, 0.25, 1500), 1279U);
  EXPECT_EQ(log2_quantile(s, 1.0, 1900), 1900U);
}

TEST(Log2Quantile, NearestRankAcrossSlots) {
  const auto s = slots_with({{0, 1}, {3, 3}}); // one 0..1, three in [8, 15]
  EXPECT_EQ(log2_quantile(s, 0.25), 1U);       // rank 1, slot 0 = [0, 1]
  EXPECT_EQ(log2_quantile(s, 0.50), 10U);      // rank 2: 8 + 7 * 1 / 3
  EXPECT_EQ(log2_quantile(s, 0.75), 12U);      // rank 3: 8 + 7 * 2 / 3
  EXPECT_EQ(log2_quantile(s, 0.99), 15U);      // rank 4
  EXPECT_EQ(log2_quantile(s, 0.0), 1U);        // rank 1 at least
  EXPECT_EQ(log2_quantile(s, std::numeric_limits<double>::quiet_NaN()), 1U);
}

TEST(Log2Quantile, RankIsExactForDecimalFractions) {
  const auto s = slots_with({{5, 100}});  // [32, 63]
  EXPECT_EQ(log2_quantile(s, 0.07), 34U); // rank 7, not 8: 32 + 31 * 7 / 100
}

TEST(Log2Quantile, TopSlotDoesNotOverflow) {
  const auto s = slots_with({{63, 2}});
  EXPECT_EQ(log2_quantile(s, 0.5), (uint64_t{1} << 63) + (UINT64_MAX - (uint64_t{1} << 63)) / 2);
  EXPECT_EQ(log2_quantile(s, 0.99), UINT64_MAX);
}

TEST(ParseDuration, UnitsAndPlainNanoseconds) {
  EXPECT_EQ(core::parse_duration_ns("500us"), 500'000U);
  EXPECT_EQ(core::parse_duration_ns("500\u00b5s"), 500'000U);
  EXPECT_EQ(core::parse_duration_ns("2ms"), 2'000'000U);
  EXPECT_EQ(core::parse_duration_ns("1s"), 1'000'000'000U);
  EXPECT_EQ(core::parse_duration_ns("3m"), 180'000'000'000U);
  EXPECT_EQ(core::parse_duration_ns("250ns"), 250U);
  EXPECT_EQ(core::parse_duration_ns("1500"), 1500U);
  EXPECT_EQ(core::parse_duration_ns("0"), 0U);
  EXPECT_EQ(core::parse_duration_ns("1.5ms"), 1'500'000U);
  EXPECT_EQ(core::parse_duration_ns("0.5us"), 500U);
  EXPECT_EQ(core::parse_duration_ns("0.000000001s"), 1U);
  EXPECT_EQ(core::parse_duration_ns("18446744073709551615"), UINT64_MAX);
}

TEST(ParseDuration, RefusesWhatItCannotReadExactly) {
  for (const char *bad : {"", "ms", "1.", ".5s", "-1ms", "1h", "1.5", "1.5ns", "0.0000000001s",
                          "2 ms", "1e3", "18446744073709551616", "18446744074s", "1ms "}) {
    EXPECT_FALSE(core::parse_duration_ns(bad).has_value()) << bad;
  }
}

TEST(TokenBucket, BurstThenRefillBySpanTime) {
  core::TokenBucket b(2);
  EXPECT_TRUE(b.take(1'000));
  EXPECT_TRUE(b.take(1'000));
  EXPECT_FALSE(b.take(1'000));         // burst of 2 spent
  EXPECT_FALSE(b.take(500'000'999));   // 0.999999998 of a token
  EXPECT_TRUE(b.take(500'001'000));    // one whole token after 0.5 s
  EXPECT_FALSE(b.take(100));           // time going back refills nothing
  EXPECT_TRUE(b.take(60'000'000'000)); // a long gap refills to the burst only
  EXPECT_TRUE(b.take(60'000'000'000));
  EXPECT_FALSE(b.take(60'000'000'000));
}

TEST(TokenBucket, SteadyRateOverTenSeconds) {
  core::TokenBucket b(100);
  uint64_t passed = 0;
  for (uint64_t t = 0; t < 10'000'000'000; t += 1'000'000) { // 1000 a second
    passed += b.take(t) ? 1 : 0;
  }
  EXPECT_EQ(passed, 100U + 999U); // the burst, then 100/s for 9.999 s
}

core::SpanAggregate aggregate(const std::string &name) {
  core::SpanAggregate a;
  a.name = name;
  a.count = 4;
  a.sum_ns = 6000;
  a.max_ns = 1900;
  a.slots[10] = 4;
  return a;
}

TEST(StatsMode, AggregatesFeedTheSummary) {
  core::SpanStats stats;
  auto a = aggregate("handle");
  a.incomplete = 1;
  a.with_costs = 4;
  a.cost_sums.cpu_ns = 4000;
  stats.add(a);
  stats.add(aggregate("handle")); // the same name from a second address
  const core::NameStats *s = stats.find("handle");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->count, 8U);
  EXPECT_EQ(s->incomplete, 1U);
  EXPECT_EQ(s->quantile(0.5), 1535U);
  EXPECT_EQ(s->quantile(1.0), 1900U);
  EXPECT_EQ(s->max_ns(), 1900U);
  EXPECT_EQ(s->mean_cost(&core::Costs::cpu_ns), 1000.0);
  EXPECT_EQ(stats.total_spans(), 8U);
  const std::string text = exporters::format_summary(stats, {}, {});
  const size_t row = text.find("\nhandle ");
  ASSERT_NE(row, std::string::npos) << text;
  std::istringstream cells(text.substr(row + 1, text.find('\n', row + 1) - row - 1));
  std::vector<std::string> got;
  for (std::string c; cells >> c;) {
    got.push_back(c);
  }
  got.resize(8);
  // p90 and p99 are rank 8: the slot's top, 2047, clamped to the max
  EXPECT_EQ(got, (std::vector<std::string>{"handle", "8", "1.5us", "1.9us", "1.9us", "1.9us", "1",
                                           "1.0us"}))
      << text;
  EXPECT_NE(text.find("spans: 8 total, 1 incomplete"), std::string::npos) << text;
}

TEST(StatsMode, PrometheusHistogramFromLog2Slots) {
  exporters::PrometheusSink sink({"svc", 1000});
  sink.set_aggregates({aggregate("handle")});
  const std::string text = sink.render(exporters::ExpositionFormat::kText004);
  // slot 9 (<= 1023 ns) empty, slot 10 (<= 2047 ns) holds all four
  EXPECT_NE(text.find("kernspan_span_duration_seconds_bucket{service_name=\"svc\",span_name="
                      "\"handle\",le=\"1.023e-06\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kernspan_span_duration_seconds_bucket{service_name=\"svc\",span_name="
                      "\"handle\",le=\"2.047e-06\"} 4\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("span_name=\"handle\",le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("kernspan_span_duration_seconds_count{service_name=\"svc\",span_name="
                      "\"handle\"} 4\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kernspan_spans_total{service_name=\"svc\"} 4\n"), std::string::npos);
  // Refreshed, not added: the kernel's numbers are cumulative.
  sink.set_aggregates({aggregate("handle")});
  EXPECT_NE(sink.render(exporters::ExpositionFormat::kText004)
                .find("kernspan_spans_total{service_name=\"svc\"} 4\n"),
            std::string::npos);
}

} // namespace
} // namespace kernspan
