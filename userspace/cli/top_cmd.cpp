// SPDX-License-Identifier: Apache-2.0
// kernspan top: live per-thread CPU, off-CPU split, syscalls and bytes.
#include "cli/commands.hpp"
#include "collect/collector.hpp"
#include "collect/plan.hpp"
#include "core/threads.hpp"
#include "exporters/top.hpp"
#include "probe/error.hpp"
#include "probe/proc_maps.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <unistd.h>

namespace kernspan::cli {
namespace {

struct TopOptions {
  pid_t pid = 0;
  double interval_s = 1.0;
  bool json = false;
  int iterations = 0; // 0: until Ctrl-C or the process exits
  bool bench_floor = false;
  bool bench_sched_only = false;
};

uint64_t unix_nano_now() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

int run_top(const TopOptions &o, const Globals &g) {
  require_process(o.pid);
  collect::check_environment();
  collect::Plan plan;
  plan.tgids = {o.pid};
  plan.costs = !o.bench_floor;
  plan.threads = !o.bench_floor;
  plan.bench_floor = o.bench_floor;
  plan.bench_sched_only = o.bench_sched_only;
  plan.verbose = g.verbose;
  const std::string comm = probe::comm(o.pid);
  auto collector = collect::Collector::start(plan);
  collect::SignalStopper stopper(*collector);
  std::fprintf(stderr, "kernspan: watching the threads of PID %d (%s) [%s]; Ctrl-C to stop\n",
               o.pid, comm.c_str(), collector->variant().c_str());
  const bool tty = !o.json && isatty(STDOUT_FILENO) != 0;
  auto before = collector->threads();
  auto t_before = std::chrono::steady_clock::now();
  for (int i = 0; o.iterations == 0 || i < o.iterations; i++) {
    if (!collector->wait(o.interval_s)) {
      break;
    }
    auto after = collector->threads();
    const auto t_after = std::chrono::steady_clock::now();
    const auto interval_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t_after - t_before).count());
    exporters::TopFrame f;
    f.pid = static_cast<uint32_t>(o.pid);
    f.comm = comm;
    f.interval_s = static_cast<double>(interval_ns) / 1e9;
    f.unix_nano = unix_nano_now();
    f.rows = core::thread_rates(before, after, interval_ns);
    f.total = core::total_rates(f.rows, before, after);
    if (o.json) {
      std::fputs(exporters::format_top_json(f).c_str(), stdout);
    } else {
      // In place on a terminal; frames one after another otherwise.
      std::fputs(tty ? "\033[H\033[2J" : (i == 0 ? "" : "\n"), stdout);
      std::fputs(exporters::format_top_text(f).c_str(), stdout);
    }
    std::fflush(stdout);
    before = std::move(after);
    t_before = t_after;
  }
  return 0;
}

} // namespace

Runner add_top(CLI::App &app) {
  auto opts = std::make_shared<TopOptions>();
  auto *cmd = app.add_subcommand(
      "top", "live per-thread CPU, off-CPU split, run-queue latency, syscalls and bytes");
  cmd->add_option("-p,--pid", opts->pid, "process to watch")->required();
  cmd->add_option("-i,--interval", opts->interval_s, "seconds between refreshes")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  cmd->add_flag("--json", opts->json, "one JSON line per refresh instead of a table");
  cmd->add_option("-n,--iterations", opts->iterations,
                  "stop after N refreshes (default: until "
                  "Ctrl-C or the process exits)")
      ->check(CLI::PositiveNumber);
  // Hidden: empty programs on the cost hooks, the floor of bench/run_costs.sh.
  cmd->add_flag("--bench-floor", opts->bench_floor, "")->group("");
  // Hidden: only the scheduler hooks (cost programs or floor), so
  // bench/run_costs.sh can price a context switch without the syscall ones.
  cmd->add_flag("--bench-sched-only", opts->bench_sched_only, "")->group("");
  return [opts](const Globals &g) { return run_top(*opts, g); };
}

} // namespace kernspan::cli
