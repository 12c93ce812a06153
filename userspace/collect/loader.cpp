// SPDX-License-Identifier: Apache-2.0
// Open the BPF object, set its rodata and map sizes from the plan, choose
// its programs from the program table (programs.hpp) and the kernel's
// features, load; and load a program needed later in an instance of its own.
#include "collect/collector_impl.hpp"
#include "collect/libbpf_log.hpp"
#include "collect/pairs.hpp"
#include "collect/prefault.hpp"
#include "collect/uprobe_multi.hpp"

#include "bpf/kernspan.h"
#include "kernspan.skel.h"

#include <algorithm>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <spdlog/spdlog.h>

namespace kernspan::collect {

// With the variant and programs `features` choose; false if the tp_btf
// variant failed to load (load() then tries raw_tp).
bool Collector::Impl::open_and_load() {
  skel = ks_kernspan__open();
  if (skel == nullptr) {
    throw CollectError("cannot open the BPF object: " + errstr(errno));
  }
  if (plan.tgids.size() == 1) {
    skel->rodata->targ_tgid = static_cast<__u32>(plan.tgids[0]);
  }
  configure_following();
  // A quarter of the buffer, shared out between the CPUs (ks_rb_flags).
  const int ncpus = std::max(libbpf_num_possible_cpus(), 1);
  skel->rodata->targ_rb_wakeup = plan.ringbuf_bytes / 4 / static_cast<unsigned>(ncpus);
  skel->rodata->targ_costs = plan.costs ? 1 : 0;
  // Without a reader of the running totals, only threads with a span open
  // are counted (ks_counted).
  skel->rodata->targ_thread_totals = plan.threads ? 1 : 0;
  __u32 nranges = 0;
  for (const auto &r : plan.name_ranges) {
    if (nranges == KS_MAX_NAME_RANGES) {
      break; // names elsewhere are always copied
    }
    auto &dst = skel->rodata->targ_ranges[nranges++];
    dst.tgid = static_cast<__u32>(r.pid);
    dst.lo = r.lo;
    dst.hi = r.hi;
  }
  skel->rodata->targ_nranges = nranges;
  prefault_name_ranges(plan.name_ranges);
  configure_mode();
  int err = bpf_map__set_max_entries(skel->maps.events, plan.ringbuf_bytes);
  if (err != 0) {
    throw CollectError("ring buffer size " + std::to_string(plan.ringbuf_bytes) +
                       " rejected: use a power of two (" + errstr(err) + ")");
  }
  if (pending_features.valid()) { // the first open: what the probe found
    const auto t0 = Clock::now();
    features = pending_features.get();
    spdlog::debug("kernel: {} (waited {:.1f} ms for the probe)", features.describe(),
                  std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  // Load only what the plan attaches (each program costs verifier time):
  // the program table says which.
  bpf_program *prog = nullptr;
  bpf_object__for_each_program(prog, skel->obj) {
    const Program *row = find_program(bpf_program__name(prog));
    if (row == nullptr) {
      throw CollectError(std::string("BPF program ") + bpf_program__name(prog) +
                         " has no row in the program table");
    }
    bpf_program__set_autoload(prog, row->wanted(plan, features));
    if (row->attach == AttachKind::kMultiUprobe) {
      bpf_program__set_expected_attach_type(prog, static_cast<bpf_attach_type>(kAttachUprobeMulti));
    }
    if (row->attach == AttachKind::kIterator) {
      bpf_program__set_autoattach(prog, false); // per target, when read
    }
  }
  // The table of async spans in flight is preallocated (16384 x ~400
  // bytes, ~4 ms of start-up to zero): one entry unless a --span pairs
  // its begin and end by an id.
  const bool async = std::any_of(plan.pairs.begin(), plan.pairs.end(),
                                 [](const auto &p) { return p.id_arg >= 0; });
  if (!async) {
    bpf_map__set_max_entries(skel->maps.async_spans, 1);
  }
  skel->rodata->targ_floor_clock = plan.bench_floor_work;
  const bool use_tp_btf = features.tp_btf;
  // raw_tp cannot reach another task's storage: without task_rename,
  // every record carries its comm.
  skel->rodata->targ_comm_once = use_tp_btf ? 1 : 0;
  skel->rodata->targ_sched_clock = plan.costs && use_tp_btf ? 1 : 0;
  skel->rodata->targ_sender_at_start =
      find_program("tcp_send_start")->wanted(plan, features) ? 1 : 0;
  skel->rodata->targ_span_timeout_ns = plan.span_timeout_ns;
  skel->rodata->targ_max_string = plan.max_string;
  // At most 16 + 5 * 4104 bytes: no overflow in 32 bits.
  // NOLINTNEXTLINE(bugprone-implicit-widening-of-multiplication-result)
  bpf_map__set_value_size(skel->maps.pair_strs, KS_PAIR_STRS_SIZE(plan.max_string));
  set_libbpf_quiet(use_tp_btf && !libbpf_verbose()); // a failed tp_btf load falls back to raw_tp
  // With -v: the verifier's statistics per program (BPF_LOG_STATS).
  std::map<std::string, std::vector<char>> stats_logs;
  if (libbpf_verbose()) {
    bpf_program *p = nullptr;
    bpf_object__for_each_program(p, skel->obj) {
      if (bpf_program__autoload(p)) {
        auto &buf = stats_logs[bpf_program__name(p)];
        buf.assign(4096, 0);
        bpf_program__set_log_buf(p, buf.data(), buf.size());
        bpf_program__set_log_level(p, 4);
      }
    }
  }
  err = ks_kernspan__load(skel);
  set_libbpf_quiet(false);
  for (const auto &[name, buf] : stats_logs) {
    std::string text(buf.data(), strnlen(buf.data(), buf.size()));
    std::replace(text.begin(), text.end(), '\n', ' ');
    spdlog::debug("verifier {}: {}", name, text);
  }
  if (err != 0) {
    ks_kernspan__destroy(skel);
    skel = nullptr;
    if (use_tp_btf) {
      return false;
    }
    throw CollectError("loading the BPF programs failed: " + errstr(err) +
                       " (run with -v for the verifier log)");
  }
  variant = use_tp_btf ? "tp_btf" : "raw_tp";
  return true;
}

// Rodata and the stats map's size for Plan::mode, before load.
void Collector::Impl::configure_mode() {
  switch (plan.mode) {
  case Mode::kTrace:
    skel->rodata->targ_mode = KS_MODE_TRACE;
    break;
  case Mode::kSample:
    skel->rodata->targ_mode = KS_MODE_SAMPLE;
    break;
  case Mode::kStats:
    skel->rodata->targ_mode = KS_MODE_STATS;
    break;
  }
  if (plan.mode == Mode::kSample) {
    if (!(plan.sample_rate > 0 && plan.sample_rate <= 1)) {
      throw CollectError("the sample rate must be in (0, 1]");
    }
    // Kept: trace ids whose low 56 bits are below rate * 2^56 (exact
    // for 1: every id).
    skel->rodata->targ_sample_below =
        static_cast<__u64>(std::ldexp(plan.sample_rate, KS_SAMPLE_BITS));
  }
  skel->rodata->targ_min_duration_ns = plan.min_duration_ns;
  const uint32_t entries =
      plan.mode == Mode::kStats ? std::max<uint32_t>(plan.stats_entries, 1) : 1;
  if (int err = bpf_map__set_max_entries(skel->maps.span_stats, entries); err != 0) {
    throw CollectError("cannot size the span statistics map: " + errstr(err));
  }
  bpf_map__set_max_entries(skel->maps.stat_names, entries);
  bpf_map__set_value_size(skel->maps.stat_names, KS_STAT_NAME_SIZE(plan.max_string));
}

void Collector::Impl::load() {
  if (plan.threads && plan.force_raw_tp) {
    throw CollectError("the per-thread view needs tp_btf/iterator support");
  }
  if (!pending_features.valid()) { // start() probes while the object opens; else now
    pending_features = std::async(std::launch::deferred, probe_features, plan.force_raw_tp);
  }
  const bool loaded = open_and_load();
  if (!loaded || !features.tp_btf) {
    features.tp_btf = false; // if !loaded: the probe passed, the real programs did not
    spdlog::debug("tp_btf unavailable, using raw_tp");
    if (!loaded) {
      open_and_load();
    }
  }
  configure_pairs();
  for (pid_t t : plan.tgids) {
    const auto key = static_cast<__u32>(t);
    const __u8 one = 1;
    int err =
        bpf_map__update_elem(skel->maps.targets, &key, sizeof(key), &one, sizeof(one), BPF_ANY);
    if (err != 0) {
      throw CollectError("cannot add PID " + std::to_string(t) +
                         " to the target set: " + errstr(err));
    }
  }
}

// --span configuration, written after load.
void Collector::Impl::configure_pairs() {
  if (plan.pairs.size() > KS_MAX_PAIRS || plan.counted.size() > KS_MAX_USDT_COUNTS) {
    throw CollectError("too many --span/--usdt (at most " + std::to_string(KS_MAX_PAIRS) +
                       " each)");
  }
  for (uint32_t i = 0; i < plan.pairs.size(); i++) {
    const ks_pair_cfg c = pair_config(plan.pairs[i]);
    int err = bpf_map__update_elem(skel->maps.pair_cfg, &i, sizeof(i), &c, sizeof(c), BPF_ANY);
    if (err != 0) {
      throw CollectError("cannot configure --span " + std::to_string(i) + ": " + errstr(err));
    }
  }
}

void Collector::Impl::configure_following() {
  const Following &f = plan.follow;
  skel->rodata->targ_dynamic = f.dynamic() ? 1 : 0;
  skel->rodata->targ_follow = f.children ? 1 : 0;
  skel->rodata->targ_follow_exec = f.keep_on_exec ? 1 : 0;
  skel->rodata->targ_exe_ino = f.exe_ino;
  skel->rodata->targ_exe_dev = f.exe_dev;
  bpf_program__set_autoload(skel->progs.follow_fork, f.children);
  bpf_program__set_autoload(skel->progs.follow_exec, f.dynamic());
  bpf_program__set_autoload(skel->progs.follow_free, f.dynamic());
}

// `p`, loaded: a span program no object had at start (a library
// dlopened later brings a new probe kind) is loaded now, in an instance of
// its own that shares every map of the first. The start verifies only what
// it attaches: span_begin_remote_m alone is ~5 ms of verifier time.
bpf_program *Collector::Impl::loaded(bpf_program *p) {
  if (p == nullptr || bpf_program__fd(p) >= 0) {
    return p;
  }
  const std::string name = bpf_program__name(p);
  for (ks_kernspan *s : late) {
    bpf_program *q = bpf_object__find_program_by_name(s->obj, name.c_str());
    if (q != nullptr && bpf_program__fd(q) >= 0) {
      return q;
    }
  }
  const auto t0 = Clock::now();
  ks_kernspan *s = ks_kernspan__open();
  if (s == nullptr) {
    throw CollectError("cannot open the BPF object for " + name + ": " + errstr(errno));
  }
  late.push_back(s); // destroyed with the collector, loaded or not
  bpf_program *want = nullptr;
  bpf_program *q = nullptr;
  bpf_object__for_each_program(q, s->obj) {
    const bool it = name == bpf_program__name(q);
    bpf_program__set_autoload(q, it);
    if (it) {
      want = q;
      bpf_program__set_expected_attach_type(q, bpf_program__expected_attach_type(p));
    }
  }
  bpf_map *m = nullptr;
  bpf_object__for_each_map(m, s->obj) {
    const bpf_map *mine = bpf_object__find_map_by_name(skel->obj, bpf_map__name(m));
    const int err = mine == nullptr ? -ENOENT : bpf_map__reuse_fd(m, bpf_map__fd(mine));
    if (err != 0) {
      throw CollectError("cannot share map " + std::string(bpf_map__name(m)) + " with " + name +
                         ": " + errstr(err));
    }
  }
  if (const int err = ks_kernspan__load(s); err != 0) {
    throw CollectError("cannot load the BPF program " + name + ": " + errstr(err));
  }
  spdlog::debug("loaded {} for a later object in {:.1f} ms", name,
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  return want;
}

// The program for a USDT probe (programs.hpp's usdt_program), or nullptr.
bpf_program *Collector::Impl::program_for(const UsdtAttach &u) const {
  const char *name = usdt_program(u, plan.bench_span_floor, features);
  return name == nullptr ? nullptr : bpf_object__find_program_by_name(skel->obj, name);
}

} // namespace kernspan::collect
