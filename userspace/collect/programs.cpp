// SPDX-License-Identifier: Apache-2.0
#include "collect/programs.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace kernspan::collect {
namespace {

using K = AttachKind;
using P = Phase;
using V = Variant;

bool always(const Program &, const Plan &, const Features &) {
  return true;
}
// The per-thread cost programs (--no-costs leaves them out).
bool costs(const Program &, const Plan &p, const Features &) {
  return p.costs;
}
// Syscall and socket costs: not in the scheduler-only bench variant.
bool io(const Program &, const Plan &p, const Features &) {
  return p.costs && !p.bench_sched_only;
}
// Noting retransmit senders where a send begins needs the tracepoint.
bool io_send_start(const Program &self, const Plan &p, const Features &f) {
  return io(self, p, f) && f.tcp_sendmsg_locked;
}
bool threads(const Program &, const Plan &p, const Features &) {
  return p.threads;
}
bool span_timeout(const Program &, const Plan &p, const Features &) {
  return p.span_timeout_ns != 0;
}
bool bench_floor(const Program &, const Plan &p, const Features &) {
  return p.bench_floor;
}
bool bench_floor_io(const Program &, const Plan &p, const Features &) {
  return p.bench_floor && !p.bench_sched_only;
}
bool bench_span_floor(const Program &, const Plan &p, const Features &) {
  return p.bench_span_floor;
}
// Function uprobes only when asked for (or possibly needed by objects found
// later): older kernels reject the multi-uprobe attach type at load.
bool functions(const Program &, const Plan &p, const Features &) {
  return !p.uprobes.empty() || p.follow.load_function_programs;
}
bool follow_children(const Program &, const Plan &p, const Features &) {
  return p.follow.children;
}
bool follow_dynamic(const Program &, const Plan &p, const Features &) {
  return p.follow.dynamic();
}
// Span, pair and counter programs: only those a probe of the plan uses (each
// costs verifier time; pair_end alone tens of milliseconds). Objects found
// later that need another one load it then.
bool used_by_usdt(const Program &self, const Plan &p, const Features &f) {
  return std::any_of(p.usdt.begin(), p.usdt.end(), [&](const UsdtAttach &u) {
    const char *prog = usdt_program(u, p.bench_span_floor, f);
    return prog != nullptr && std::strcmp(prog, self.name) == 0;
  });
}

constexpr std::array kPrograms{
    // Tracepoints (skeleton order). raw_tp cannot reach another task's
    // storage: without task_rename, every record carries its comm.
    Program{"task_rename", V::kTpBtf, K::kSkeleton, P::kTracepoints, always},
    Program{"thread_exit", V::kTpBtf, K::kSkeleton, P::kTracepoints, always},
    Program{"thread_exit_raw", V::kRawTp, K::kSkeleton, P::kTracepoints, always},
    // --span-timeout: an iterator run each tick (needs BTF, as tp_btf does).
    Program{"expire_spans", V::kTpBtf, K::kIterator, P::kTracepoints, span_timeout},
    // kernspan top: per-thread totals, attached per target in threads().
    Program{"dump_threads", V::kTpBtf, K::kIterator, P::kTracepoints, threads},
    // The tp_btf sched_switch reaches any task's storage; its raw_tp twin
    // parks switch-ins per CPU.
    Program{"sched_switch", V::kTpBtf, K::kSkeleton, P::kTracepoints, costs},
    Program{"floor_sched_switch", V::kAny, K::kSkeleton, P::kTracepoints, bench_floor},
    Program{"sched_switch_raw", V::kRawTp, K::kSkeleton, P::kTracepoints, costs},
    Program{"sys_enter", V::kAny, K::kSkeleton, P::kTracepoints, io},
    Program{"floor_sys_enter", V::kAny, K::kSkeleton, P::kTracepoints, bench_floor_io},
    Program{"sys_exit_btf", V::kTpBtf, K::kSkeleton, P::kTracepoints, io},
    Program{"floor_sys_exit", V::kAny, K::kSkeleton, P::kTracepoints, bench_floor_io},
    Program{"sys_exit", V::kRawTp, K::kSkeleton, P::kTracepoints, io},
    // Socket senders are remembered (for retransmits) only with tp_btf.
    Program{"sock_send", V::kRawTp, K::kSkeleton, P::kTracepoints, io},
    Program{"sock_send_btf", V::kTpBtf, K::kSkeleton, P::kTracepoints, io},
    Program{"tcp_send_start", V::kTpBtf, K::kSkeleton, P::kTracepoints, io_send_start},
    Program{"tcp_retransmit", V::kTpBtf, K::kSkeleton, P::kTracepoints, io},
    Program{"sock_recv", V::kAny, K::kSkeleton, P::kTracepoints, io},
    Program{"follow_fork", V::kAny, K::kSkeleton, P::kTracepoints, follow_children},
    Program{"follow_exec", V::kAny, K::kSkeleton, P::kTracepoints, follow_dynamic},
    Program{"follow_free", V::kAny, K::kSkeleton, P::kTracepoints, follow_dynamic},
    // Ends: span ends, USDT pairs' ends and counters, function returns.
    Program{"span_end", V::kAny, K::kUsdt, P::kEnds, used_by_usdt},
    Program{"span_end_usdt", V::kAny, K::kUsdt, P::kEnds, used_by_usdt},
    Program{"span_end_m", V::kAny, K::kMultiUprobe, P::kEnds, used_by_usdt},
    Program{"pair_end", V::kAny, K::kUsdt, P::kEnds, used_by_usdt},
    Program{"usdt_count", V::kAny, K::kUsdt, P::kEnds, used_by_usdt},
    Program{"fn_return", V::kAny, K::kMultiUprobe, P::kEnds, functions},
    // bench/: one empty program on every kernspan probe, begins and ends
    // alike (ordered by the probe, as its span program would be).
    Program{"floor_span_usdt", V::kAny, K::kUsdt, P::kEnds, bench_span_floor},
    Program{"floor_span_m", V::kAny, K::kMultiUprobe, P::kEnds, bench_span_floor},
    // Begins.
    Program{"span_begin", V::kAny, K::kUsdt, P::kBegins, used_by_usdt},
    Program{"span_begin_remote", V::kAny, K::kUsdt, P::kBegins, used_by_usdt},
    Program{"span_begin_usdt", V::kAny, K::kUsdt, P::kBegins, used_by_usdt},
    Program{"span_begin_remote_usdt", V::kAny, K::kUsdt, P::kBegins, used_by_usdt},
    Program{"span_begin_m", V::kAny, K::kMultiUprobe, P::kBegins, used_by_usdt},
    Program{"span_begin_remote_m", V::kAny, K::kMultiUprobe, P::kBegins, used_by_usdt},
    Program{"pair_begin", V::kAny, K::kUsdt, P::kBegins, used_by_usdt},
    Program{"fn_entry", V::kAny, K::kMultiUprobe, P::kBegins, functions},
};

} // namespace

bool Program::wanted(const Plan &plan, const Features &f) const {
  if ((variant == Variant::kTpBtf && !f.tp_btf) || (variant == Variant::kRawTp && f.tp_btf)) {
    return false;
  }
  return when(*this, plan, f);
}

std::span<const Program> programs() {
  return kPrograms;
}

const Program *find_program(std::string_view name) {
  for (const Program &p : kPrograms) {
    if (name == p.name) {
      return &p;
    }
  }
  return nullptr;
}

bool use_multi(const UsdtAttach &u, const Features &f) {
  return u.regs && u.program.empty() && !u.site_offsets.empty() && f.multi_uprobe;
}

const char *usdt_program(const UsdtAttach &u, bool floor, const Features &f) {
  if (!u.program.empty()) {
    const Program *p = find_program(u.program);
    return p != nullptr ? p->name : nullptr;
  }
  const bool multi = use_multi(u, f);
  if (floor) {
    return multi ? "floor_span_m" : "floor_span_usdt";
  }
  if (u.name == "span_begin") {
    return multi ? "span_begin_m" : (u.regs ? "span_begin" : "span_begin_usdt");
  }
  if (u.name == "span_begin_remote") {
    return multi ? "span_begin_remote_m"
                 : (u.regs ? "span_begin_remote" : "span_begin_remote_usdt");
  }
  if (u.name == "span_end") {
    return multi ? "span_end_m" : (u.regs ? "span_end" : "span_end_usdt");
  }
  return nullptr;
}

bool is_end(const UsdtAttach &u) {
  return u.program.empty() ? u.name == "span_end" : u.program != "pair_begin";
}

} // namespace kernspan::collect
