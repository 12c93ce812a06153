// SPDX-License-Identifier: Apache-2.0
// One row per BPF program of the kernspan object (bpf/*.bpf.c linked into
// one skeleton): its variant, how it is attached, in which phase, and when a
// plan wants it. The loader loads exactly the wanted rows; attach goes
// through them in phase order and detach in reverse. A new program is a new
// row. Plain data: no libbpf here, so the choices are unit-tested.
#pragma once

#include "collect/features.hpp"
#include "collect/plan.hpp"

#include <span>
#include <string_view>

namespace kernspan::collect {

// Which kernel interface the program needs: a tp_btf program and its raw_tp
// twin are never loaded together.
enum class Variant { kAny, kTpBtf, kRawTp };

enum class AttachKind {
  kSkeleton,    // the section says where (tracepoints): bpf_program__attach
  kUsdt,        // libbpf's USDT attach, per probe of the plan
  kMultiUprobe, // multi-uprobe links made by hand (uprobe_multi.hpp)
  kIterator,    // iter/task, one link per target, read on demand
  kNone,        // loaded, never attached
};

// Attach order. Tracepoints first: task_rename must be live before the
// first span and costs count from the first begin. Ends before begins: a
// begin whose end is not attached yet would leave a stale frame, while an
// end without its begin is only counted. Detach goes the other way.
enum class Phase { kTracepoints, kEnds, kBegins };

struct Program {
  const char *name; // as in the skeleton (SEC function name)
  Variant variant;
  AttachKind attach;
  Phase phase;
  // The plan's part of the choice; wanted() adds the variant's.
  bool (*when)(const Program &self, const Plan &plan, const Features &f);

  [[nodiscard]] bool wanted(const Plan &plan, const Features &f) const;
};

// Every program of the object, tracepoints first, in skeleton order.
std::span<const Program> programs();
// The row named `name`, or nullptr.
const Program *find_program(std::string_view name);

// Whether a USDT probe goes through one multi-uprobe link (kernspan's own
// probes whose sites all pass arguments in registers, on a kernel with
// such links) rather than libbpf's per-site USDT attach.
bool use_multi(const UsdtAttach &u, const Features &f);
// The program for a USDT probe: a named one (--span, --usdt), else for
// kernspan's own probes the multi-uprobe one, the register-reading one
// where every site passes its arguments in registers, else libbpf's
// generic. `floor`: bench/'s empty programs instead. nullptr: none.
const char *usdt_program(const UsdtAttach &u, bool floor, const Features &f);
// An end probe (attached in Phase::kEnds): span_end, and every named
// program except pair_begin.
bool is_end(const UsdtAttach &u);

} // namespace kernspan::collect
