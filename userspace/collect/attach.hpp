// SPDX-License-Identifier: Apache-2.0
// One factory per attach kind of the program table (programs.hpp), each
// returning a Link or throwing CollectError with one line that names the
// probe.
#pragma once

#include "collect/link.hpp"
#include "collect/plan.hpp"

#include <sys/types.h>

struct bpf_program;

namespace kernspan::collect {

// AttachKind::kSkeleton: where the program's section says (a tracepoint).
Link attach_tracepoint(bpf_program *prog);
// AttachKind::kUsdt: libbpf's USDT attach, one perf-event uprobe per site.
Link attach_usdt_probe(bpf_program *prog, const UsdtAttach &u);
// AttachKind::kMultiUprobe: every site of a USDT probe in one link.
Link attach_usdt_multi(bpf_program *prog, const UsdtAttach &u);
// AttachKind::kIterator: a task iterator over the threads of `tgid`; empty
// if the process is gone (or the kernel refuses: errno says why).
Link attach_task_iterator(bpf_program *prog, pid_t tgid);

} // namespace kernspan::collect
