// SPDX-License-Identifier: Apache-2.0
// kernspan's view of its own cost and of its targets' resource use, as
// plain data: filled by collect/ (ring buffer, BPF stats) and probe/
// (/proc), rendered by exporters/. No I/O here.
#pragma once

#include <cstdint>
#include <string>

namespace kernspan::core {

// The span ring buffer's fill, read from the positions the kernel exposes
// in the map's first two mmap'ed pages (consumer and producer), the same
// numbers libbpf's newer ring__avail_data_size() reads.
struct RingbufFill {
  bool known = false;          // false if the positions could not be mapped
  uint64_t size_bytes = 0;     // data area
  uint64_t used_bytes = 0;     // written, not yet consumed, at the last look
  uint64_t max_used_bytes = 0; // most seen just before a drain since start
};

// What the kernel counted for one of kernspan's BPF programs
// (bpf_prog_info.run_time_ns / run_cnt; both stay 0 unless BPF run-time
// stats are on, see collect::Plan::bpf_stats).
struct BpfProgramStats {
  std::string name;
  uint64_t run_time_ns = 0;
  uint64_t run_count = 0;
};

// A traced process's resource use since it started, from /proc.
struct ProcessUsage {
  uint32_t pid = 0;
  uint64_t user_ns = 0;     // /proc/PID/stat utime, all threads
  uint64_t system_ns = 0;   // /proc/PID/stat stime, all threads
  uint64_t runqueue_ns = 0; // waiting for a CPU: schedstat of live threads
  uint64_t blkio_ns = 0;    // waiting for block I/O: delayacct_blkio_ticks
  bool io_known = false;    // /proc/PID/io was readable
  uint64_t read_bytes = 0;  // /proc/PID/io read_bytes (storage)
  uint64_t write_bytes = 0; // /proc/PID/io write_bytes (storage)
  uint64_t rss_bytes = 0;   // /proc/PID/stat rss, in bytes
  // What the process may use: its cgroup's memory.max (v2) when set, else
  // the machine's MemTotal; 0 when neither could be read.
  uint64_t memory_limit_bytes = 0;
};

} // namespace kernspan::core
