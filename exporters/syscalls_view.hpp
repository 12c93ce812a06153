// SPDX-License-Identifier: Apache-2.0
// What `kernspan syscalls` prints: a top-N table per syscall (count,
// errors with the commonest errnos, mean and total time), log2 latency
// bars as bpftrace's hist prints them, or one JSON object per interval.
#pragma once

#include "core/syscalls.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace kernspan::exporters {

// The table of the `top` syscalls by count in `s`, over `seconds`.
std::string render_syscall_table(const core::SyscallSnapshot &s, size_t top, double seconds);

// log2 bars of a latency histogram (slot i: [2^i, 2^(i+1)) ns), from the
// first to the last non-empty slot, each line "[lo, hi) count |@@@@|" with
// bounds in ns as bpftrace's hist writes them (512, 1K, 2K...).
std::string render_log2_bars(std::span<const uint64_t> slots);

// One JSON object (no newline): {"interval_s":..,"syscalls":[{"name":..,
// "nr":..,"count":..,"errors":..,"total_ns":..,"errnos":{"ENOENT":n},
// "hist":[..]}], "dropped":{..}}, the top `top` by count.
std::string render_syscall_json(const core::SyscallSnapshot &s, size_t top, double seconds);

// "ENOENT" for 2: the errno's symbolic name, or the number.
std::string errno_name(uint32_t err);

} // namespace kernspan::exporters
