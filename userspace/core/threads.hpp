// SPDX-License-Identifier: Apache-2.0
// Per-thread totals and the rates `kernspan top` shows. Pure C++.
#pragma once

#include "core/span.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace kernspan::core {

// One thread's counters since attach, as read at ktime_ns.
struct ThreadCosts {
  uint32_t tid = 0;
  uint32_t tgid = 0;
  std::string comm;
  uint64_t ktime_ns = 0;
  Costs costs;
};

// What a thread did over one interval, per second of wall time.
struct ThreadRates {
  uint32_t tid = 0;
  uint32_t tgid = 0;
  std::string comm;
  double cpu_pct = 0;  // on-CPU time / interval * 100
  double runq_pct = 0; // off-CPU split, same unit
  double io_pct = 0;
  double sleep_pct = 0;
  double runq_latency_ns = 0; // mean run-queue wait per switch-in (0 if none)
  double syscalls_per_s = 0;
  double read_bps = 0;
  double write_bps = 0;
  double net_tx_bps = 0;
  double net_rx_bps = 0;
  Costs totals; // since attach
};

// Rates between two readings of the same threads. A thread absent from
// `before` (new since) counts from zero; `interval_ns` is the wall time
// between the readings. Sorted by CPU, busiest first (ties by tid).
std::vector<ThreadRates> thread_rates(const std::vector<ThreadCosts> &before,
                                      const std::vector<ThreadCosts> &after, uint64_t interval_ns);

// Field-wise sum of rates (tid 0, comm "total"); runq_latency_ns is the
// mean over all switch-ins.
ThreadRates total_rates(const std::vector<ThreadRates> &rows,
                        const std::vector<ThreadCosts> &before,
                        const std::vector<ThreadCosts> &after);

} // namespace kernspan::core
