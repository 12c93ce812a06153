// SPDX-License-Identifier: Apache-2.0
// Making the target's span names readable from BPF before the first span.
#pragma once

#include "collect/plan.hpp"

#include <cstdint>
#include <vector>

namespace kernspan::collect {

// BPF copies a span name from the target with bpf_probe_read_user_str,
// which cannot fault: a name in a page the program never touched (a
// literal in .rodata) reads as nothing, and userspace then reads it from
// /proc/PID/mem, too late when the process has exited meanwhile (a short
// job). Reading each read-only name range once through /proc/PID/mem
// faults its pages into the target's page tables (the kernel's remote
// access maps them there), so the kernel's copy succeeds from the first
// span. At most `budget` bytes in all; returns the bytes read.
uint64_t prefault_name_ranges(const std::vector<NameRange> &ranges,
                              uint64_t budget = uint64_t{64} << 20);

} // namespace kernspan::collect
