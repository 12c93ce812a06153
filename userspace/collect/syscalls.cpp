// SPDX-License-Identifier: Apache-2.0
#include "collect/syscalls.hpp"

#include "bpf/kernspan.h"
#include "collect/collector.hpp"
#include "tools.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace kernspan::collect {

struct SyscallCounter::Impl {
  ks_tools *skel = nullptr;
  int ncpus = 1;
  ~Impl() { ks_tools__destroy(skel); }
};

SyscallCounter::SyscallCounter(pid_t pid) : impl_(std::make_unique<Impl>()) {
  impl_->ncpus = libbpf_num_possible_cpus();
  if (impl_->ncpus <= 0) {
    throw CollectError("cannot count the possible CPUs");
  }
  impl_->skel = ks_tools__open();
  if (impl_->skel == nullptr) {
    throw CollectError(std::string("cannot open the syscall programs: ") + std::strerror(errno));
  }
  impl_->skel->rodata->targ_tgid = static_cast<__u32>(pid);
  impl_->skel->rodata->targ_self = static_cast<__u32>(getpid());
  if (const int err = ks_tools__load(impl_->skel); err != 0) {
    throw CollectError("cannot load the syscall programs (" + std::string(std::strerror(-err)) +
                       "): run with -v for the verifier's log");
  }
  if (const int err = ks_tools__attach(impl_->skel); err != 0) {
    throw CollectError("cannot attach to the syscall tracepoints: " +
                       std::string(std::strerror(-err)));
  }
}

SyscallCounter::~SyscallCounter() = default;

core::SyscallSnapshot SyscallCounter::read() const {
  core::SyscallSnapshot out;
  const auto ncpus = static_cast<size_t>(impl_->ncpus);
  const int stats = bpf_map__fd(impl_->skel->maps.sys_stats);
  std::vector<ks_sys_val> vals(ncpus);
  __u32 key = 0;
  __u32 next = 0;
  for (__u32 *prev = nullptr; bpf_map_get_next_key(stats, prev, &next) == 0; prev = &key) {
    key = next;
    if (bpf_map_lookup_elem(stats, &key, vals.data()) != 0) {
      continue; // cannot happen: entries are never deleted
    }
    core::SyscallStat &s = out.by_nr[key];
    for (const auto &v : vals) {
      s.count += v.count;
      s.errors += v.errors;
      s.total_ns += v.total_ns;
      for (size_t i = 0; i < core::kSyscallSlots; i++) {
        s.hist[i] += v.hist[i];
      }
    }
  }
  const int errnos = bpf_map__fd(impl_->skel->maps.sys_errnos);
  std::vector<__u64> counts(ncpus);
  ks_sys_errno_key ek{};
  ks_sys_errno_key enext{};
  for (ks_sys_errno_key *prev = nullptr; bpf_map_get_next_key(errnos, prev, &enext) == 0;
       prev = &ek) {
    ek = enext;
    if (bpf_map_lookup_elem(errnos, &ek, counts.data()) != 0) {
      continue;
    }
    uint64_t n = 0;
    for (const auto c : counts) {
      n += c;
    }
    out.by_nr[ek.nr].errnos[ek.err] += n;
  }
  const int drops = bpf_map__fd(impl_->skel->maps.tool_drops);
  for (__u32 slot = 0; slot < KS_TOOL_DROP_MAX; slot++) {
    if (bpf_map_lookup_elem(drops, &slot, counts.data()) != 0) {
      continue;
    }
    uint64_t n = 0;
    for (const auto c : counts) {
      n += c;
    }
    if (slot == KS_TOOL_DROP_STATS_FULL) {
      out.stats_full = n;
    } else if (slot == KS_TOOL_DROP_ERRNO_FULL) {
      out.errno_full = n;
    } else if (slot == KS_TOOL_DROP_NO_STORAGE) {
      out.no_storage = n;
    }
  }
  return out;
}

} // namespace kernspan::collect
