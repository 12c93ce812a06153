// SPDX-License-Identifier: Apache-2.0
#include "collect/readers.hpp"

#include "collect/collector.hpp"
#include "collect/records.hpp"

#include "bpf/kernspan.h"
#include "kernspan.skel.h"

#include <algorithm>
#include <array>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <unistd.h>

namespace kernspan::collect {
namespace {

const char *const kDropNames[KS_DROP_MAX] = {
    "ringbuf_full",      "span_stack_overflow", "unmatched_end",   "mismatched_end",
    "bad_traceparent",   "no_task_storage",     "incomplete_span", "string_truncated",
    "fn_return_lost",    "async_span_full",     "sampled_out",     "filtered",
    "stats_full",        "span_timed_out",      "follow_full",     "retransmit_unattributed",
    "string_unreadable", "string_unstored",
};

size_t possible_cpus() {
  const int ncpu = libbpf_num_possible_cpus();
  return static_cast<size_t>(ncpu > 0 ? ncpu : 1);
}

// A slot of the per-CPU `drops` array, summed over the CPUs.
uint64_t drop_slot(const ks_kernspan *skel, uint32_t slot) {
  return per_cpu_sum(skel->maps.drops, slot);
}

bool is_choice(uint32_t slot) {
  return slot == KS_DROP_SAMPLED_OUT || slot == KS_DROP_FILTERED;
}

} // namespace

uint64_t per_cpu_sum(const bpf_map *map, uint32_t key) {
  std::vector<uint64_t> vals(possible_cpus());
  uint64_t sum = 0;
  if (bpf_map__lookup_elem(map, &key, sizeof(key), vals.data(), vals.size() * sizeof(uint64_t),
                           0) == 0) {
    for (auto v : vals) {
      sum += v;
    }
  }
  return sum;
}

core::DropCounts read_drops(const ks_kernspan *skel, Mode mode, uint64_t decode_errors) {
  core::DropCounts out;
  for (uint32_t slot = 0; slot < KS_DROP_MAX; slot++) {
    if (std::strcmp(kDropNames[slot], "reserved") == 0 || is_choice(slot)) {
      continue;
    }
    if (slot == KS_DROP_STATS_FULL && mode != Mode::kStats) {
      continue;
    }
    out.add(kDropNames[slot], drop_slot(skel, slot));
  }
  out.add("decode_error", decode_errors);
  return out;
}

core::DropCounts read_mode_counts(const ks_kernspan *skel) {
  core::DropCounts out;
  out.add(kDropNames[KS_DROP_SAMPLED_OUT], drop_slot(skel, KS_DROP_SAMPLED_OUT));
  out.add(kDropNames[KS_DROP_FILTERED], drop_slot(skel, KS_DROP_FILTERED));
  return out;
}

std::vector<core::SpanAggregate> read_span_aggregates(const ks_kernspan *skel, const Plan &plan,
                                                      const SpanNamer &namer) {
  std::vector<ks_stat_val> vals(possible_cpus());
  std::vector<char> name_buf;
  std::map<std::string, core::SpanAggregate> by_name;
  ks_stat_key key{};
  ks_stat_key next{};
  const bpf_map *map = skel->maps.span_stats;
  const ks_stat_key *prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    key = next;
    prev = &key;
    if (bpf_map__lookup_elem(map, &key, sizeof(key), vals.data(), vals.size() * sizeof(ks_stat_val),
                             0) != 0) {
      continue; // removed meanwhile (never, today)
    }
    core::SpanAggregate a;
    name_buf.assign(KS_STAT_NAME_SIZE(plan.max_string), 0);
    if (bpf_map__lookup_elem(skel->maps.stat_names, &key, sizeof(key), name_buf.data(),
                             name_buf.size(), 0) == 0) {
      a.name = decode_stat_name(name_buf.data(), name_buf.size()).value_or("");
    }
    for (const ks_stat_val &v : vals) {
      core::SpanAggregate one;
      one.count = v.count;
      one.incomplete = v.incomplete;
      one.sum_ns = v.sum_ns;
      one.max_ns = v.max_ns;
      std::copy(std::begin(v.hist), std::end(v.hist), one.slots.begin());
      one.with_costs = v.with_costs;
      one.cost_sums = decode_costs(v.costs);
      a.merge(one);
    }
    if (is_fn_tag(key.span)) {
      a.name = function_name(plan, fn_probe_id(key.span));
    } else if ((key.span & KS_PAIR_TAG) != 0) {
      const uint64_t pair = key.span & ~KS_PAIR_TAG;
      a.name = pair < plan.pairs.size() ? plan.pairs[pair].literal_name : "<unknown pair>";
    } else if (a.name.empty()) {
      const std::string *known = namer.cached(key.tgid, key.span);
      a.name = known != nullptr ? *known : "<unknown>";
    }
    auto [it, fresh] = by_name.try_emplace(a.name);
    if (fresh) {
      it->second.name = a.name;
    }
    it->second.merge(a);
  }
  std::vector<core::SpanAggregate> out;
  out.reserve(by_name.size());
  for (auto &[name, a] : by_name) {
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<std::pair<std::string, uint64_t>> read_usdt_counts(const ks_kernspan *skel,
                                                               const Plan &plan) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (uint32_t i = 0; i < plan.counted.size(); i++) {
    out.emplace_back(plan.counted[i], per_cpu_sum(skel->maps.usdt_counts, i));
  }
  return out;
}

std::vector<core::BpfProgramStats> read_program_stats(const std::vector<const bpf_object *> &objs) {
  std::vector<core::BpfProgramStats> out;
  for (const bpf_object *obj : objs) {
    bpf_program *prog = nullptr;
    bpf_object__for_each_program(prog, obj) {
      const int fd = bpf_program__fd(prog);
      if (fd < 0) {
        continue; // not loaded: the plan does not use it (or the other instance has it)
      }
      bpf_prog_info info{};
      __u32 len = sizeof(info);
      if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
        out.push_back({bpf_program__name(prog), info.run_time_ns, info.run_cnt});
      }
    }
  }
  return out;
}

bool bpf_stats_sysctl_on() {
  char c = '0';
  const int fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, &c, 1) != 1) {
      c = '0';
    }
    close(fd);
  }
  return c == '1';
}

std::vector<core::ThreadCosts> read_threads(const std::vector<Link> &iters) {
  std::vector<core::ThreadCosts> out;
  for (const Link &l : iters) {
    const int fd = bpf_iter_create(l.fd());
    if (fd < 0) {
      throw CollectError("cannot read the thread iterator: " + std::string(std::strerror(errno)));
    }
    std::vector<char> buf;
    std::array<char, 8192> chunk{};
    while (true) {
      const ssize_t n = read(fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        // The process exited while we read: what we have is all there is.
        break;
      }
      if (n == 0) {
        break;
      }
      buf.insert(buf.end(), chunk.begin(), chunk.begin() + n);
    }
    close(fd);
    for (size_t off = 0; off + sizeof(ks_thread_rec) <= buf.size(); off += sizeof(ks_thread_rec)) {
      if (auto t = decode_thread(buf.data() + off, sizeof(ks_thread_rec))) {
        out.push_back(std::move(*t));
      }
    }
  }
  return out;
}

void run_iterators(const std::vector<Link> &iters) {
  for (const Link &l : iters) {
    const int fd = bpf_iter_create(l.fd());
    if (fd < 0) {
      continue;
    }
    std::array<char, 256> sink{};
    while (read(fd, sink.data(), sink.size()) > 0) {
    }
    close(fd);
  }
}

} // namespace kernspan::collect
