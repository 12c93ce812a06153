// SPDX-License-Identifier: Apache-2.0
// What the collector reads from BPF maps and iterators on demand (the
// summary, /metrics, kernspan top): drop counters, in-kernel aggregates,
// USDT counters, program run-time stats, per-thread totals. Per-CPU values
// are summed by one helper.
#pragma once

#include "collect/link.hpp"
#include "collect/naming.hpp"
#include "collect/plan.hpp"
#include "core/health.hpp"
#include "core/stats.hpp"
#include "core/threads.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

struct bpf_map;
struct bpf_object;
struct ks_kernspan;

namespace kernspan::collect {

// The u64 at `key` of a per-CPU array, summed over the CPUs (0 if absent).
uint64_t per_cpu_sum(const bpf_map *map, uint32_t key);

// Every drop slot that is a loss (not a choice of the mode), by name, plus
// the records userspace could not decode.
core::DropCounts read_drops(const ks_kernspan *skel, Mode mode, uint64_t decode_errors);
// "sampled_out" and "filtered": spans not sent by choice.
core::DropCounts read_mode_counts(const ks_kernspan *skel);
// The kernel's per-span aggregates (Mode::kStats), summed over the CPUs and
// merged by name.
std::vector<core::SpanAggregate> read_span_aggregates(const ks_kernspan *skel, const Plan &plan,
                                                      const SpanNamer &namer);
// Hits of each --usdt probe, in plan order.
std::vector<std::pair<std::string, uint64_t>> read_usdt_counts(const ks_kernspan *skel,
                                                               const Plan &plan);
// Run time and count of every loaded program of these objects.
std::vector<core::BpfProgramStats> read_program_stats(const std::vector<const bpf_object *> &objs);
// Whether the kernel counts BPF run time (sysctl kernel.bpf_stats_enabled).
bool bpf_stats_sysctl_on();
// Run each iterator link and decode its per-thread records (dump_threads).
// Throws CollectError if one cannot be read.
std::vector<core::ThreadCosts> read_threads(const std::vector<Link> &iters);
// Run each iterator link, discarding its output (expire_spans: what it
// finds arrives through the ring buffer).
void run_iterators(const std::vector<Link> &iters);

} // namespace kernspan::collect
