// SPDX-License-Identifier: Apache-2.0
// kernspan syscalls: what the kernel counted per syscall, as plain data
// (no libbpf): totals since attach, their differences per interval, names.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace kernspan::core {

inline constexpr size_t kSyscallSlots = 40; // KS_SYS_SLOTS: [2^i, 2^(i+1)) ns

struct SyscallStat {
  uint64_t count = 0;  // returns seen
  uint64_t errors = 0; // returns of -4095..-1
  uint64_t total_ns = 0;
  std::array<uint64_t, kSyscallSlots> hist{};
  std::map<uint32_t, uint64_t> errnos; // errno -> failures
};

struct SyscallSnapshot {
  std::map<uint32_t, SyscallStat> by_nr;
  uint64_t stats_full = 0; // a new syscall number found the stats map full
  uint64_t errno_full = 0; // a new (number, errno) pair found its map full
  uint64_t no_storage = 0; // a thread's entry time could not be stored
};

// now - before, field by field (counters only grow); syscalls with no call
// in between are left out.
SyscallSnapshot syscall_delta(const SyscallSnapshot &now, const SyscallSnapshot &before);

// The name of syscall `nr` on this architecture, from the kernel's
// <asm/unistd.h> at build time; "syscall_N" for a number it lacks (newer
// than the headers).
std::string syscall_name(uint32_t nr);

// The number of a syscall name, or -1.
int64_t syscall_number(const std::string &name);

} // namespace kernspan::core
