// SPDX-License-Identifier: Apache-2.0
// The BPF side of `kernspan syscalls` (bpf/tools/syscalls.bpf.c, its own
// skeleton): loads and attaches the two syscall tracepoints, and reads what
// they counted.
#pragma once

#include "core/syscalls.hpp"

#include <memory>
#include <sys/types.h>

namespace kernspan::collect {

class SyscallCounter {
public:
  // Every process but kernspan itself (pid 0), or one process. Throws
  // CollectError when the programs cannot be loaded or attached.
  explicit SyscallCounter(pid_t pid);
  ~SyscallCounter();
  SyscallCounter(const SyscallCounter &) = delete;
  SyscallCounter &operator=(const SyscallCounter &) = delete;

  // Everything counted since attach, the CPUs added up.
  core::SyscallSnapshot read() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace kernspan::collect
