// SPDX-License-Identifier: Apache-2.0
#include "core/threads.hpp"
#include "exporters/top.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kernspan {
namespace {

core::ThreadCosts thread(uint32_t tid, const char *comm, uint64_t cpu_ns, uint64_t runq_ns,
                         uint64_t read_bytes, uint64_t switches) {
  core::ThreadCosts t;
  t.tid = tid;
  t.tgid = 100;
  t.comm = comm;
  t.costs.cpu_ns = cpu_ns;
  t.costs.runq_ns = runq_ns;
  t.costs.offcpu_ns = runq_ns;
  t.costs.read_bytes = read_bytes;
  t.costs.syscalls = read_bytes / 1024;
  t.costs.ctxsw_involuntary = switches;
  return t;
}

TEST(ThreadRates, DeltasPerSecondSortedByCpu) {
  const std::vector<core::ThreadCosts> before = {thread(101, "a", 100, 0, 0, 0),
                                                 thread(102, "b", 0, 0, 0, 0)};
  // Over 2 s: a used 0.5 s of CPU, b 1.5 s and waited 0.2 s over 4 switches;
  // c is new and counts from zero.
  const std::vector<core::ThreadCosts> after = {thread(101, "a", 500'000'100, 0, 2048, 0),
                                                thread(102, "b", 1'500'000'000, 200'000'000, 0, 4),
                                                thread(103, "c", 20'000'000, 0, 0, 0)};
  const auto rows = core::thread_rates(before, after, 2'000'000'000);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].tid, 102u);
  EXPECT_DOUBLE_EQ(rows[0].cpu_pct, 75.0);
  EXPECT_DOUBLE_EQ(rows[0].runq_pct, 10.0);
  EXPECT_DOUBLE_EQ(rows[0].runq_latency_ns, 50'000'000.0);
  EXPECT_EQ(rows[1].tid, 101u);
  EXPECT_DOUBLE_EQ(rows[1].cpu_pct, 25.0);
  EXPECT_DOUBLE_EQ(rows[1].read_bps, 1024.0);
  EXPECT_DOUBLE_EQ(rows[1].syscalls_per_s, 1.0);
  EXPECT_EQ(rows[2].tid, 103u);
  EXPECT_DOUBLE_EQ(rows[2].cpu_pct, 1.0);
  const auto total = core::total_rates(rows, before, after);
  EXPECT_DOUBLE_EQ(total.cpu_pct, 101.0);
  EXPECT_DOUBLE_EQ(total.runq_latency_ns, 50'000'000.0);
  EXPECT_EQ(total.totals.cpu_ns, 2'020'000'100u);
}

TEST(TopFrame, GoldenText) {
  exporters::TopFrame f;
  f.pid = 100;
  f.comm = "svc";
  f.interval_s = 1.0;
  const std::vector<core::ThreadCosts> after = {thread(101, "svc", 250'000'000, 0, 4096, 0),
                                                thread(102, "worker", 0, 0, 0, 0)};
  f.rows = core::thread_rates({}, after, 1'000'000'000);
  f.total = core::total_rates(f.rows, {}, after);
  EXPECT_EQ(exporters::format_top_text(f),
            "PID 100 (svc)  2 threads  interval 1.0s\n"
            "TID  COMM    CPU%  RUNQ%  IO%  SLEEP%  RUNQ-LAT  SYSC/s  READ/s  WRITE/s  NETTX/s  "
            "NETRX/s\n"
            "101  svc     25.0    0.0  0.0     0.0       0ns       4  4.0KiB       0B       0B  "
            "     0B\n"
            "102  worker   0.0    0.0  0.0     0.0       0ns       0      0B       0B       0B  "
            "     0B\n"
            "  -  total   25.0    0.0  0.0     0.0       0ns       4  4.0KiB       0B       0B  "
            "     0B\n");
  const auto j = nlohmann::json::parse(exporters::format_top_json(f));
  EXPECT_EQ(j["threads"].size(), 2u);
  EXPECT_EQ(j["threads"][0]["tid"], 101);
  EXPECT_EQ(j["threads"][0]["totals"]["cpu_ns"], 250'000'000u);
  EXPECT_EQ(j["threads"][0]["totals"].size(), 16u);
  EXPECT_FALSE(j["total"].contains("tid"));
}

} // namespace
} // namespace kernspan
