// SPDX-License-Identifier: Apache-2.0
// /metrics shows what watching costs and what the target uses: ring-buffer
// fill, the kernel's run time and run count of kernspan's BPF programs, and
// the target's CPU, run-queue wait and I/O from /proc; promtool accepts it.
#include "harness.hpp"
#include "net.hpp"

#include <csignal>
#include <cstdio>
#include <httplib.h>
#include <map>
#include <sstream>
#include <thread>

namespace kernspan::itest {
namespace {

using namespace std::chrono_literals;

// Sample lines "name{labels} value" -> value, for names starting with `prefix`.
std::map<std::string, double> samples(const std::string &metrics, const std::string &prefix) {
  std::map<std::string, double> out;
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) {
      const size_t sp = line.rfind(' ');
      out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    }
  }
  return out;
}

TEST(Health, MetricsShowObserverCostAndTargetUsage) {
  KS_REQUIRE_ROOT();
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "500"});
  std::this_thread::sleep_for(100ms);
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q", "--prometheus",
                   "127.0.0.1:0", "--service", "demo"});
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "attached", 10000)) << slurp(ks.err_path);
  const int port = served_port(slurp(ks.err_path));
  ASSERT_GT(port, 0);
  // Health is refreshed once a second: wait (bounded) until a refresh has
  // seen the span programs run.
  std::string metrics;
  double end_runs = 0;
  for (int i = 0; i < 200 && end_runs == 0; i++) {
    std::this_thread::sleep_for(50ms);
    metrics = scrape(port);
    for (const auto &[series, v] : samples(metrics, "kernspan_bpf_program_runs_total")) {
      end_runs += series.find("span_end") != std::string::npos ? v : 0;
    }
  }
  kill(ks.pid, SIGINT);
  EXPECT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  kill(demo.pid, SIGTERM);
  EXPECT_EQ(wait_exit(demo, 5000), 0);

  EXPECT_GT(end_runs, 0) << metrics;
  EXPECT_EQ(samples(metrics, "kernspan_bpf_stats_enabled")["kernspan_bpf_stats_enabled"], 1);
  double run_seconds = 0;
  for (const auto &[series, v] : samples(metrics, "kernspan_bpf_program_run_seconds_total")) {
    run_seconds += v;
  }
  EXPECT_GT(run_seconds, 0) << "the kernel timed our programs";

  const auto ring = samples(metrics, "kernspan_ringbuf_");
  EXPECT_EQ(ring.at("kernspan_ringbuf_size_bytes"), 4 << 20);
  EXPECT_LE(ring.at("kernspan_ringbuf_used_max_bytes"), 4 << 20);
  EXPECT_GE(ring.at("kernspan_ringbuf_used_max_bytes"), ring.at("kernspan_ringbuf_used_bytes"));

  const std::string labels = "{service_name=\"demo\",pid=\"" + std::to_string(demo.pid) + "\"";
  const auto cpu = samples(metrics, "kernspan_process_cpu_seconds_total" + labels);
  ASSERT_EQ(cpu.size(), 2u) << metrics;
  EXPECT_EQ(samples(metrics, "kernspan_process_runqueue_seconds_total" + labels).size(), 1u);
  EXPECT_EQ(samples(metrics, "kernspan_process_blkio_seconds_total" + labels).size(), 1u);
  EXPECT_EQ(samples(metrics, "kernspan_process_io_bytes_total" + labels).size(), 2u);

  // promtool lints the whole exposition.
  FILE *p = popen("/usr/bin/promtool check metrics >/dev/null 2>&1", "w");
  ASSERT_NE(p, nullptr);
  std::fwrite(metrics.data(), 1, metrics.size(), p);
  EXPECT_EQ(pclose(p), 0) << metrics;
}

} // namespace
} // namespace kernspan::itest
