// SPDX-License-Identifier: Apache-2.0
// Checks before anything is loaded, each a one-line error saying what to do.
#include "collect/collector.hpp"
#include "probe/proc_stats.hpp"

#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kernspan::collect {

void check_environment() {
  if (geteuid() != 0) {
    const auto caps = probe::effective_capabilities();
    if (!caps) {
      throw CollectError("cannot read capabilities: run kernspan as root");
    }
    auto has = [&](unsigned cap) { return probe::has_capability(*caps, cap); };
    if (!(has(CAP_BPF) && has(CAP_PERFMON)) && !has(CAP_SYS_ADMIN)) {
      throw CollectError("kernspan needs root or CAP_BPF+CAP_PERFMON: run it with sudo, or "
                         "setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep on the binary");
    }
  }
  struct stat st {};
  if (stat("/sys/kernel/btf/vmlinux", &st) != 0) {
    throw CollectError("this kernel has no BTF (/sys/kernel/btf/vmlinux missing): kernspan "
                       "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
  }
}

} // namespace kernspan::collect
