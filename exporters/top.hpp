// SPDX-License-Identifier: Apache-2.0
// `kernspan top` frames: per-thread rates as a text table or one JSON line.
#pragma once

#include "core/threads.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace kernspan::exporters {

struct TopFrame {
  uint32_t pid = 0;
  std::string comm;
  double interval_s = 0;
  uint64_t unix_nano = 0;              // when the frame was read
  std::vector<core::ThreadRates> rows; // sorted by CPU, busiest first
  core::ThreadRates total;
};

// Text (columns right-aligned, comm left-aligned):
//   PID <pid> (<comm>)  <n> threads  interval <s>s
//   TID  COMM  CPU%  RUNQ%  IO%  SLEEP%  RUNQ-LAT  SYSC/s  READ/s  WRITE/s  NETTX/s  NETRX/s
//   <one row per thread>
//   -    total ...
// Percentages are of one CPU over the interval; RUNQ-LAT is the mean wait
// in the run queue per switch-in; byte rates per second.
std::string format_top_text(const TopFrame &f);

// One line of JSON: {"unix_nano","pid","comm","interval_s","threads":[row...],
// "total":row}; row = {"tid","comm","cpu_pct","runq_pct","io_pct",
// "sleep_pct","runq_latency_ns","syscalls_per_s","read_bytes_per_s",
// "write_bytes_per_s","net_tx_bytes_per_s","net_rx_bytes_per_s","totals":
// {cost key: value since attach}}.
std::string format_top_json(const TopFrame &f);

} // namespace kernspan::exporters
