// SPDX-License-Identifier: Apache-2.0
// The only place that talks to libbpf: load the BPF object for a Plan,
// attach, sweep the ring buffer, count drops, detach cleanly.
#pragma once

#include "collect/plan.hpp"
#include "core/health.hpp"
#include "core/span.hpp"
#include "core/stats.hpp"
#include "core/threads.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kernspan::collect {

// A failure the user can act on; what() is one line.
class CollectError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Checks before load, each throwing CollectError with what to do:
// privileges (root or CAP_BPF+CAP_PERFMON), kernel BTF.
void check_environment();

enum class StopReason { kSignal, kDuration, kTargetsExited };
const char *to_string(StopReason r);

class Collector {
public:
  using SpanFn = std::function<void(core::Span &&)>;
  using TickFn = std::function<void()>;

  // Open, configure, load and attach everything in the plan.
  static std::unique_ptr<Collector> start(const Plan &plan);
  ~Collector();
  Collector(const Collector &) = delete;
  Collector &operator=(const Collector &) = delete;

  // Sweep the ring buffer until a signal, the plan's duration or the exit of
  // every target; then detach, drain and return why. on_tick runs about
  // once a second on the same thread.
  StopReason run(const SpanFn &on_span, const TickFn &on_tick = {});

  // Sweep the ring buffer (spans are discarded) for `seconds`; false once a
  // stop was requested or every target exited.
  bool wait(double seconds);

  // Every thread of the targets with its totals since attach (Plan::threads).
  [[nodiscard]] std::vector<core::ThreadCosts> threads();

  // Attach probes found after start (a library loaded later, the image of
  // an exec'd child): USDT sites ends first, function returns before
  // entries, as at start. Probe ids of `more.uprobes` index
  // `more.functions`; they are renumbered after the plan's. Throws
  // CollectError. Call from run()'s on_tick (the consumer thread).
  void attach_more(const Plan &more);
  // The processes traced now and alive: the targets, plus the children and
  // --binary processes the kernel added to the set.
  [[nodiscard]] std::vector<pid_t> traced();

  // Ask run() to return; async-signal-safe.
  void request_stop();

  // Every place that can drop, with its count so far (never silent).
  [[nodiscard]] core::DropCounts drops() const;
  // Spans not sent by choice (Plan::mode, min_duration_ns), not losses:
  // "sampled_out" and "filtered".
  [[nodiscard]] core::DropCounts mode_counts() const;
  // Plan::Mode::kStats: the kernel's aggregates so far, one per span name
  // (identities of the same name, such as one literal at two addresses or
  // several processes, merged). Empty in other modes.
  [[nodiscard]] std::vector<core::SpanAggregate> span_aggregates() const;
  [[nodiscard]] uint64_t records() const;
  [[nodiscard]] size_t attached() const;
  [[nodiscard]] double attach_ms() const;
  [[nodiscard]] double detach_ms() const; // after run() returned
  // Hits of each --usdt probe so far, in plan order ("provider:name", n).
  [[nodiscard]] std::vector<std::pair<std::string, uint64_t>> usdt_counts() const;
  [[nodiscard]] const std::string &variant() const; // "tp_btf" or "raw_tp"

  // The span ring buffer's fill now, and the most seen before a drain.
  [[nodiscard]] core::RingbufFill ringbuf_fill() const;
  // Run time and run count of each loaded program (zeros unless BPF stats
  // are on: Plan::bpf_stats, or sysctl kernel.bpf_stats_enabled=1).
  [[nodiscard]] std::vector<core::BpfProgramStats> program_stats() const;
  // Whether the kernel is counting BPF run time now.
  [[nodiscard]] bool bpf_stats_enabled() const;

  struct Impl;

private:
  explicit Collector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// SIGINT/SIGTERM ask the collector to stop; the previous dispositions come
// back when this is destroyed.
class SignalStopper {
public:
  explicit SignalStopper(Collector &c);
  ~SignalStopper();
  SignalStopper(const SignalStopper &) = delete;
  SignalStopper &operator=(const SignalStopper &) = delete;
};

} // namespace kernspan::collect
