// SPDX-License-Identifier: Apache-2.0
// What to watch and how: built by the CLI, carried out by the Collector.
// Plain data, no libbpf.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kernspan::collect {

// One USDT probe to attach in one object of one process.
struct UsdtAttach {
  pid_t pid = -1;       // -1: every process mapping the object
  std::string object;   // path to open (from our mount namespace)
  std::string provider; // "kernspan"
  std::string name;     // "span_begin", "span_end", "span_begin_remote"
  bool regs = false;    // every site passes its arguments in %rdi, %rsi
};

struct Plan {
  std::vector<pid_t> tgids;     // processes to watch (filtered in the kernel)
  std::vector<UsdtAttach> usdt; // where to attach
  uint32_t ringbuf_bytes = 4u << 20;
  int poll_ms = 50;      // sweep interval of the ring buffer
  double duration_s = 0; // 0: until stopped or the targets exit
  bool costs = false;    // load the per-thread cost programs
  bool verbose = false;  // libbpf debug output
  // Turn on the kernel's BPF run-time statistics (BPF_ENABLE_STATS) while
  // the collector lives, so program_stats() has run time and run counts.
  // The kernel then times every BPF program on the machine (~20 ns a run),
  // so only when someone reads them (e.g. /metrics).
  bool bpf_stats = false;
};

} // namespace kernspan::collect
