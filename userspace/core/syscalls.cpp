// SPDX-License-Identifier: Apache-2.0
#include "core/syscalls.hpp"

#include <utility>

namespace kernspan::core {
namespace {

struct NamedSyscall {
  uint32_t nr;
  const char *name;
};

// Generated from the kernel's <asm/unistd.h> (cmake/gen_syscall_names.sh).
constexpr NamedSyscall kSyscalls[] = {
#include "syscall_names.inc"
};

} // namespace

SyscallSnapshot syscall_delta(const SyscallSnapshot &now, const SyscallSnapshot &before) {
  SyscallSnapshot d;
  d.stats_full = now.stats_full - before.stats_full;
  d.errno_full = now.errno_full - before.errno_full;
  d.no_storage = now.no_storage - before.no_storage;
  for (const auto &[nr, s] : now.by_nr) {
    const auto it = before.by_nr.find(nr);
    if (it == before.by_nr.end()) {
      if (s.count != 0) {
        d.by_nr.emplace(nr, s);
      }
      continue;
    }
    const SyscallStat &b = it->second;
    if (s.count == b.count) {
      continue;
    }
    SyscallStat x;
    x.count = s.count - b.count;
    x.errors = s.errors - b.errors;
    x.total_ns = s.total_ns - b.total_ns;
    for (size_t i = 0; i < kSyscallSlots; i++) {
      x.hist[i] = s.hist[i] - b.hist[i];
    }
    for (const auto &[err, n] : s.errnos) {
      const auto e = b.errnos.find(err);
      const uint64_t was = e == b.errnos.end() ? 0 : e->second;
      if (n > was) {
        x.errnos.emplace(err, n - was);
      }
    }
    d.by_nr.emplace(nr, std::move(x));
  }
  return d;
}

std::string syscall_name(uint32_t nr) {
  for (const auto &s : kSyscalls) {
    if (s.nr == nr) {
      return s.name;
    }
  }
  return "syscall_" + std::to_string(nr);
}

int64_t syscall_number(const std::string &name) {
  for (const auto &s : kSyscalls) {
    if (name == s.name) {
      return s.nr;
    }
  }
  return -1;
}

} // namespace kernspan::core
