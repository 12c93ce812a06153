// SPDX-License-Identifier: Apache-2.0
// kernspan syscalls: counts, failures by errno and latency histograms per
// syscall, machine-wide or for one process (a syscount with latency).
#include "cli/commands.hpp"
#include "collect/collector.hpp"
#include "collect/syscalls.hpp"
#include "exporters/syscalls_view.hpp"
#include "probe/proc_maps.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

namespace kernspan::cli {
namespace {

struct SyscallsOptions {
  pid_t pid = 0;
  double duration_s = 0;
  double interval_s = 0;
  size_t top = 20;
  bool json = false;
  bool hist = false;
};

std::atomic<bool> g_stop{false};

void on_signal(int /*sig*/) {
  g_stop.store(true);
}

// Exited: no such process, or a zombie its parent has not reaped yet.
bool process_gone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) {
    return true;
  }
  FILE *f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) {
    return true;
  }
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  const std::string s(buf, n);
  const size_t close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() &&
         (s[close + 2] == 'Z' || s[close + 2] == 'X');
}

void print(const core::SyscallSnapshot &s, const SyscallsOptions &o, double seconds) {
  if (o.json) {
    std::printf("%s\n", exporters::render_syscall_json(s, o.top, seconds).c_str());
  } else {
    std::printf("%s", exporters::render_syscall_table(s, o.top, seconds).c_str());
    if (o.hist) {
      size_t shown = 0;
      std::vector<std::pair<uint64_t, uint32_t>> order;
      for (const auto &[nr, st] : s.by_nr) {
        order.emplace_back(st.count, nr);
      }
      std::sort(order.rbegin(), order.rend());
      for (const auto &[count, nr] : order) {
        if (shown++ == o.top) {
          break;
        }
        std::printf("\n%s (%llu calls), time in the kernel, ns:\n", core::syscall_name(nr).c_str(),
                    static_cast<unsigned long long>(count));
        std::printf("%s", exporters::render_log2_bars(s.by_nr.at(nr).hist).c_str());
      }
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

int run_syscalls(const SyscallsOptions &o, const Globals & /*g*/) {
  if (o.pid != 0) {
    require_process(o.pid);
  }
  collect::check_environment();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const collect::SyscallCounter counter(o.pid);
  if (o.pid != 0) {
    std::fprintf(stderr, "kernspan: attached to the syscalls of PID %d (%s); Ctrl-C to stop\n",
                 o.pid, probe::comm(o.pid).c_str());
  } else {
    std::fprintf(stderr, "kernspan: attached to the syscalls of every process; Ctrl-C to stop\n");
  }
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto t_last = t0;
  core::SyscallSnapshot last;
  const char *why = "interrupted";
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto now = Clock::now();
    const double since_start = std::chrono::duration<double>(now - t0).count();
    if (o.pid != 0 && process_gone(o.pid)) {
      why = "target exited";
      break;
    }
    if (o.duration_s > 0 && since_start >= o.duration_s) {
      why = "duration reached";
      break;
    }
    if (o.interval_s > 0 && std::chrono::duration<double>(now - t_last).count() >= o.interval_s) {
      const core::SyscallSnapshot cur = counter.read();
      print(core::syscall_delta(cur, last), o, std::chrono::duration<double>(now - t_last).count());
      last = cur;
      t_last = now;
    }
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::fprintf(stderr, "kernspan: stopped (%s) after %.1f s; totals:\n", why, total_s);
  print(counter.read(), o, total_s);
  return 0;
}

} // namespace

Runner add_syscalls(CLI::App &app) {
  auto o = std::make_shared<SyscallsOptions>();
  auto *cmd = app.add_subcommand(
      "syscalls", "count syscalls per name, with failures by errno and time in the kernel, "
                  "machine-wide or for one process");
  cmd->add_option("-p,--pid", o->pid, "only this process (default: every process)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-d,--duration", o->duration_s, "stop after SECONDS (default: until Ctrl-C)")
      ->check(CLI::Range(0.0, 31536000.0));
  cmd->add_option("-i,--interval", o->interval_s,
                  "print the counts of each interval of SECONDS, then the totals at the end")
      ->check(CLI::Range(0.05, 3600.0));
  cmd->add_option("-n,--top", o->top, "show the N syscalls called most (default 20)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "one JSON object per interval and one for the totals");
  cmd->add_flag("--hist", o->hist,
                "print a log2 histogram of the time in the kernel of each syscall shown");
  return [o](const Globals &g) { return run_syscalls(*o, g); };
}

} // namespace kernspan::cli
