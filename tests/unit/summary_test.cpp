// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "exporters/summary.hpp"

namespace kernspan::exporters {
namespace {

core::Span make_span(const std::string &name, uint64_t duration_ns) {
  core::Span s;
  s.name = name;
  s.start_unix_nano = 1'000'000'000;
  s.end_unix_nano = s.start_unix_nano + duration_ns;
  return s;
}

core::Span with_costs(core::Span s, uint64_t cpu, uint64_t runq, uint64_t io, uint64_t sleep,
                      uint64_t read, uint64_t write, uint64_t tx, uint64_t rx) {
  s.has_costs = true;
  s.costs.cpu_ns = cpu;
  s.costs.runq_ns = runq;
  s.costs.io_wait_ns = io;
  s.costs.sleep_ns = sleep;
  s.costs.read_bytes = read;
  s.costs.write_bytes = write;
  s.costs.net_tx_bytes = tx;
  s.costs.net_rx_bytes = rx;
  return s;
}

// request: 1ms and 3ms, both with costs; parse: 100/200/300ns, one incomplete.
core::SpanStats sample_stats() {
  core::SpanStats stats;
  stats.add(with_costs(make_span("request", 1'000'000), 400'000, 100'000, 200'000, 300'000, 2048, 0,
                       1536, 512));
  stats.add(with_costs(make_span("request", 3'000'000), 600'000, 300'000, 0, 2'100'000, 4096, 1024,
                       512, 1536));
  stats.add(make_span("parse", 100));
  auto incomplete = make_span("parse", 200);
  incomplete.incomplete = true;
  stats.add(incomplete);
  stats.add(make_span("parse", 300));
  return stats;
}

core::DropCounts sample_drops() {
  core::DropCounts drops;
  drops.add("ringbuf", 0);
  drops.add("span_stack", 2);
  drops.add("exporter_queue", 0);
  return drops;
}

TEST(Summary, GoldenWithCosts) {
  // p50 of request is rank 1 (1ms, bucket midpoint 1003520ns); p90 rank 2
  // (3ms, midpoint 2998272ns). parse p50 is 200 -> midpoint 201.
  const std::string expected =
      "name     count    p50    p90    p99    max  incomplete      cpu     runq       io  "
      "sleep    read  write  net_tx  net_rx\n"
      "parse        3  201ns  300ns  300ns  300ns           1        -        -        -      "
      "-       -      -       -       -\n"
      "request      2  1.0ms  3.0ms  3.0ms  3.0ms           0  500.0us  200.0us  100.0us  "
      "1.2ms  3.0KiB   512B  1.0KiB  1.0KiB\n"
      "drops: ringbuf=0 span_stack=2 exporter_queue=0 (total 2)\n"
      "spans: 5 total, 1 incomplete\n";
  EXPECT_EQ(format_summary(sample_stats(), sample_drops(), {}), expected);
}

TEST(Summary, GoldenWithoutCostsAndRowLimit) {
  SummaryOptions options;
  options.show_costs = false;
  options.max_rows = 1; // parse has the most spans
  const std::string expected = "name   count    p50    p90    p99    max  incomplete\n"
                               "parse      3  201ns  300ns  300ns  300ns           1\n"
                               "(1 more span names not shown)\n"
                               "drops: no counters\n"
                               "spans: 5 total, 1 incomplete\n";
  EXPECT_EQ(format_summary(sample_stats(), core::DropCounts{}, options), expected);
}

TEST(Summary, RowLimitKeepsNameOrderAmongTheBusiest) {
  core::SpanStats stats;
  for (int i = 0; i < 3; ++i) {
    stats.add(make_span("zeta", 10));
    stats.add(make_span("alpha", 10));
  }
  stats.add(make_span("mid", 10));
  SummaryOptions options;
  options.max_rows = 2;
  const std::string expected = "name   count   p50   p90   p99   max  incomplete\n"
                               "alpha      3  10ns  10ns  10ns  10ns           0\n"
                               "zeta       3  10ns  10ns  10ns  10ns           0\n"
                               "(1 more span names not shown)\n"
                               "drops: no counters\n"
                               "spans: 7 total, 0 incomplete\n";
  EXPECT_EQ(format_summary(stats, core::DropCounts{}, options), expected);
}

TEST(Summary, OverflowedSpansAreCountedAndShown) {
  core::SpanStats stats(2);
  for (const char *name : {"b", "a", "c", "d", "a"}) {
    stats.add(make_span(name, 1000));
  }
  EXPECT_EQ(format_summary(stats, {}, {}),
            "name          count    p50    p90    p99    max  incomplete\n"
            "__overflow__      2  1.0us  1.0us  1.0us  1.0us           0\n"
            "a                 2  1.0us  1.0us  1.0us  1.0us           0\n"
            "b                 1  1.0us  1.0us  1.0us  1.0us           0\n"
            "overflow: 2 spans of about 2 names beyond the first 2 counted as __overflow__ "
            "(--max-span-names)\n"
            "drops: no counters\n"
            "spans: 5 total, 0 incomplete\n");
}

TEST(Summary, AMillionQueryTextsGiveABoundedSummary) {
  core::SpanStats stats; // --max-span-names' default
  for (int i = 0; i < 1'000'000; i++) {
    stats.add(
        make_span("SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(i), 100));
  }
  const std::string text = format_summary(stats, {}, {});
  // A header, 1000 names, __overflow__, the overflow, drops and spans lines.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 1000 + 1 + 3);
  const std::string line = "overflow: 999000 spans of about ";
  const size_t at = text.find(line);
  ASSERT_NE(at, std::string::npos) << text.substr(text.size() - 300);
  // An estimate of the 999000 distinct names, within 5%.
  const double names = std::stod(text.substr(at + line.size()));
  EXPECT_NEAR(names, 999000.0, 999000.0 * 0.05);
  EXPECT_NE(
      text.find(" names beyond the first 1000 counted as __overflow__ (--max-span-names)\n", at),
      std::string::npos);
  EXPECT_NE(text.find("spans: 1000000 total"), std::string::npos);
}

TEST(Summary, NoSpansStillShowsDrops) {
  core::DropCounts drops;
  drops.add("ringbuf", 0);
  EXPECT_EQ(format_summary(core::SpanStats{}, drops, {}), "no spans recorded\n"
                                                          "drops: ringbuf=0 (total 0)\n"
                                                          "spans: 0 total, 0 incomplete\n");
}

TEST(Summary, PrintWritesTheFormattedText) {
  char *buf = nullptr;
  size_t len = 0;
  std::FILE *mem = open_memstream(&buf, &len);
  ASSERT_NE(mem, nullptr);
  print_summary(mem, sample_stats(), sample_drops(), {});
  std::fclose(mem);
  const std::string out(buf, len);
  std::free(buf);
  EXPECT_EQ(out, format_summary(sample_stats(), sample_drops(), {}));
}

} // namespace
} // namespace kernspan::exporters
