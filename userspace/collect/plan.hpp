// SPDX-License-Identifier: Apache-2.0
// What to watch and how: built by the CLI, carried out by the Collector.
// Plain data, no libbpf.
#pragma once

#include "probe/span_spec.hpp"

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
  std::string program;  // BPF program to attach; "" = the one named like the probe
  uint64_t cookie = 0;  // usdt cookie: pair id or counter index
  // With regs: every site's file offset and its semaphore's (0: none). Such
  // probes are attached as one multi-uprobe link per probe name (one
  // syscall to attach, one RCU grace period to detach) instead of one perf
  // event per site through libbpf.
  std::vector<uint64_t> site_offsets;
  std::vector<uint64_t> semaphore_offsets;
};

// A read-only mapping of a target holding span names: BPF sends a name
// found there once per thread (its text cannot change), then only its address.
struct NameRange {
  pid_t pid = 0;
  uint64_t lo = 0; // [lo, hi) in the target's address space
  uint64_t hi = 0;
};

// Function uprobes in one object: one multi-uprobe link for the entries and
// one for the returns (one RCU grace period each to detach).
struct UprobeSite {
  uint64_t offset = 0; // file offset of the probed instruction
  uint32_t probe_id = 0;
  uint32_t nargs = 0; // integer arguments to record (0..6)
};
struct UprobeAttach {
  pid_t pid = -1;     // -1: every process mapping the object
  std::string object; // path to open (from our mount namespace)
  std::vector<UprobeSite> sites;
};
// What a probe id means: the span name and how many arguments it records.
struct FunctionProbe {
  std::string name; // demangled function name
  uint32_t nargs = 0;
};

// What the kernel sends: every span, whole traces
// kept at sample_rate, or no records at all but per-span aggregates.
enum class Mode { kTrace, kSample, kStats };
// Processes that join the trace while it runs. Any of these makes the
// kernel's target set grow (bpf/follow.bpf.c); probes must then be attached
// with pid -1 (every process mapping the object), the kernel filtering by tgid.
struct Following {
  bool children = false;     // forked children (and theirs) are traced too
  bool keep_on_exec = false; // ...also after they exec another file
  // --binary: a process exec'ing this file joins (device as the kernel
  // numbers it: major << 20 | minor; 0 ino: no binary).
  uint64_t exe_ino = 0;
  uint32_t exe_dev = 0;
  bool until_stopped = false; // the exit of every target does not end the trace
  // Objects found later (dlopen, exec) may need the function programs
  // (--uprobe waiting for its library): load them. (A span program is
  // loaded when an object needing it appears.)
  bool load_function_programs = false;
  [[nodiscard]] bool dynamic() const { return children || exe_ino != 0; }
};

struct Plan {
  std::vector<pid_t> tgids;             // processes to watch (filtered in the kernel)
  std::vector<UsdtAttach> usdt;         // where to attach
  std::vector<UprobeAttach> uprobes;    // function uprobes
  std::vector<FunctionProbe> functions; // indexed by probe id
  std::vector<probe::SpanSpec> pairs;   // --span, indexed by pair id
  std::vector<std::string> counted;     // --usdt "provider:name", by counter index
  uint32_t ringbuf_bytes = 4u << 20;
  std::vector<NameRange> name_ranges; // at most KS_MAX_NAME_RANGES are used
  int poll_ms = 50;                   // sweep interval of the ring buffer
  double duration_s = 0;              // 0: until stopped or the targets exit
  bool costs = false;                 // load the per-thread cost programs
  bool threads = false;      // load the per-thread totals iterator (kernspan top); needs costs
  bool force_raw_tp = false; // skip tp_btf (tests of the fallback variant)
  bool bench_floor = false;  // empty programs on the cost hooks instead (bench/)
  // bench/: kernspan's own span probes get one empty program instead, attached
  // the same way (multi-uprobe links): the floor of what the span programs add.
  bool bench_span_floor = false;
  // What the floor programs do (targ_floor_clock): 0 nothing, 1 read the
  // clock once, 2 that and a minimal record every second hit on a CPU.
  uint8_t bench_floor_work = 0;
  bool verbose = false; // libbpf debug output
  // bench/: load the scheduler programs only (cost programs or floor).
  bool bench_sched_only = false;
  Mode mode = Mode::kTrace;
  double sample_rate = 1.0;      // kSample: fraction of traces kept, (0, 1]
  uint64_t min_duration_ns = 0;  // complete spans shorter than this are not sent
  uint64_t span_timeout_ns = 0;  // spans open longer are reported incomplete (0: never)
  uint32_t stats_entries = 4096; // kStats: span identities (name x process) kept
  // --max-string: bytes kept of each string read from a target (span names,
  // string attributes), 1..KS_MAX_STRING; longer ones are cut and counted.
  uint32_t max_string = 256;
  // Turn on the kernel's BPF run-time statistics (BPF_ENABLE_STATS) while
  // the collector lives, so program_stats() has run time and run counts.
  // The kernel then times every BPF program on the machine (~20 ns a run),
  // so only when someone reads them (e.g. /metrics).
  bool bpf_stats = false;
  Following follow; // processes joining while it runs (--follow-children, --binary)
};

} // namespace kernspan::collect
