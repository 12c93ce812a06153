// SPDX-License-Identifier: Apache-2.0
// Attach in phase order (tracepoints, ends, begins: programs.hpp), one
// factory per attach kind; detach in reverse, handing the slow part to a
// grandchild (fast_detach.hpp).
#include "collect/attach.hpp"

#include "collect/collector_impl.hpp"
#include "collect/fast_detach.hpp"
#include "collect/uprobe_multi.hpp"
#include "probe/usdt.hpp"

#include "bpf/kernspan.h"
#include "kernspan.skel.h"

#include <algorithm>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <span>
#include <spdlog/spdlog.h>

namespace kernspan::collect {
namespace {

// The probe's process is gone: say so rather than the kernel's error.
void throw_if_exited(const UsdtAttach &u) {
  if (u.pid > 0 && kill(u.pid, 0) != 0) {
    throw CollectError("PID " + std::to_string(u.pid) + " exited while attaching");
  }
}

} // namespace

Link attach_tracepoint(bpf_program *prog) {
  bpf_link *l = bpf_program__attach(prog);
  if (l == nullptr) {
    throw CollectError("cannot attach the thread-exit and cost tracepoints: " + errstr(errno));
  }
  return Link::of(l);
}

Link attach_usdt_probe(bpf_program *prog, const UsdtAttach &u) {
  bpf_usdt_opts uopts{}; // not LIBBPF_OPTS: a C99 compound literal
  uopts.sz = sizeof(uopts);
  uopts.usdt_cookie = u.cookie;
  bpf_link *l = bpf_program__attach_usdt(prog, u.pid, u.object.c_str(), u.provider.c_str(),
                                         u.name.c_str(), &uopts);
  if (l == nullptr) {
    const int err = errno;
    throw_if_exited(u);
    throw CollectError("cannot attach to USDT " + u.provider + ":" + u.name + " in " + u.object +
                       ": " + errstr(err));
  }
  return Link::of(l);
}

Link attach_usdt_multi(bpf_program *prog, const UsdtAttach &u) {
  const std::vector<uint64_t> cookies(u.site_offsets.size(), 0);
  const bool any_sema = std::any_of(u.semaphore_offsets.begin(), u.semaphore_offsets.end(),
                                    [](uint64_t o) { return o != 0; });
  const int fd = uprobe_multi_link(
      bpf_program__fd(prog), u.object, u.site_offsets, cookies, false, u.pid,
      any_sema ? std::span<const uint64_t>(u.semaphore_offsets) : std::span<const uint64_t>());
  if (fd < 0) {
    throw_if_exited(u);
    throw CollectError("cannot attach to USDT " + u.provider + ":" + u.name + " in " + u.object +
                       ": " + std::strerror(-fd));
  }
  return Link::of_fd(fd);
}

Link attach_task_iterator(bpf_program *prog, pid_t tgid) {
  union bpf_iter_link_info info {};
  info.task.pid = static_cast<__u32>(tgid); // only this process's threads
  bpf_iter_attach_opts opts{};              // LIBBPF_OPTS is a C99 compound literal
  opts.sz = sizeof(opts);
  opts.link_info = &info;
  opts.link_info_len = sizeof(info);
  return Link::of(bpf_program__attach_iter(prog, &opts));
}

// The programs the table attaches where their section says, in table order.
void Collector::Impl::attach_tracepoints() {
  for (const Program &row : programs()) {
    if (row.attach != AttachKind::kSkeleton) {
      continue;
    }
    bpf_program *prog = bpf_object__find_program_by_name(skel->obj, row.name);
    if (prog != nullptr && bpf_program__fd(prog) >= 0) {
      phase(row.phase).push_back(attach_tracepoint(prog));
    }
  }
}

void Collector::Impl::attach() {
  const auto t0 = Clock::now();
  // Tracepoints first: task_rename must be live before the first span
  // (a program renaming a thread right after our probes appear would
  // otherwise keep its old comm in our records), and costs count from
  // the first begin.
  attach_tracepoints(); // thread exit, rename and the cost tracepoints
  guard_sites(plan);
  // Function returns before entries, for the same reason as below; a
  // return probe only fires for calls entered after it was attached.
  if (!plan.uprobes.empty()) {
    attach_functions(plan, true);
  }
  attach_usdt(plan.usdt);
  if (!plan.uprobes.empty()) {
    attach_functions(plan, false);
  }
  attach_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  spdlog::debug("attach took {:.1f} ms (after load)", attach_ms);
}

// Function probes of `p` in one direction. Sites the kernel refuses (an
// instruction it cannot probe) are left out and named once, in one line
// per object, with the count; the rest are traced.
void Collector::Impl::attach_functions(const Plan &p, bool is_return) {
  const int prog = bpf_program__fd(is_return ? skel->progs.fn_return : skel->progs.fn_entry);
  std::vector<int> fds;
  const auto refused = attach_function_probes(p, prog, is_return, fds);
  for (const int fd : fds) {
    phase(is_return ? Phase::kEnds : Phase::kBegins).push_back(Link::of_fd(fd));
  }
  std::map<std::string, std::vector<const RefusedSite *>> by_object;
  for (const auto &r : refused) {
    if (refused_sites.insert({r.object, r.offset}).second) {
      by_object[r.object].push_back(&r);
    }
  }
  for (const auto &[object, list] : by_object) {
    std::string which;
    for (const RefusedSite *r : list) {
      which += (which.empty() ? "" : ", ") +
               (r->probe_id < plan.functions.size() ? plan.functions[r->probe_id].name
                                                    : std::string("?")) +
               " (" + errstr(r->error) + ")";
    }
    size_t total = 0;
    for (const auto &u : p.uprobes) {
      total += u.object == object ? u.sites.size() : 0;
    }
    spdlog::warn("skipped {} function{} the kernel refuses to probe in {}: {}; tracing the "
                 "other {}",
                 list.size(), list.size() == 1 ? "" : "s", object, which, total - list.size());
  }
}

// Every uprobe site of `p` that the kernel would optimize, where that
// harms forked children, is made unoptimizable before the first attach
// (a site hit in between would already be optimized).
void Collector::Impl::guard_sites(const Plan &p) {
  std::map<std::string, std::vector<ProbeSite>> sites; // object -> sites
  std::map<std::string, std::vector<probe::UsdtProbe>> notes;
  for (const auto &u : p.usdt) {
    auto &out = sites[u.object];
    if (!u.site_offsets.empty()) {
      for (size_t i = 0; i < u.site_offsets.size(); i++) {
        out.push_back(
            {u.site_offsets[i], i < u.semaphore_offsets.size() ? u.semaphore_offsets[i] : 0});
      }
      continue;
    }
    // Attached through libbpf by name: the same sites and semaphores.
    auto [it, fresh] = notes.try_emplace(u.object);
    if (fresh) {
      try {
        it->second = probe::read_usdt_probes(u.object);
      } catch (const std::exception &e) {
        spdlog::debug("cannot read the USDT notes of {}: {}", u.object, e.what());
      }
    }
    for (const auto &n : it->second) {
      if (n.provider == u.provider && n.name == u.name && n.site_offset != 0) {
        out.push_back({n.site_offset, n.semaphore_offset});
      }
    }
  }
  for (const auto &u : p.uprobes) {
    auto &out = sites[u.object];
    for (const auto &site : u.sites) {
      out.push_back({site.offset, 0});
    }
  }
  for (auto &[object, list] : sites) {
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    guard.protect(object, list);
  }
}

// Ends before begins: libbpf attaches one site at a time, and a begin
// seen while its end is not yet attached would leave a stale frame on
// the thread's stack. An end seen without its begin is only counted.
void Collector::Impl::attach_usdt(const std::vector<UsdtAttach> &usdt) {
  std::vector<const UsdtAttach *> order;
  for (const auto &u : usdt) {
    if (is_end(u)) {
      order.push_back(&u);
    }
  }
  for (const auto &u : usdt) {
    if (!is_end(u)) {
      order.push_back(&u);
    }
  }
  for (const auto *up : order) {
    const UsdtAttach &u = *up;
    bpf_program *prog = loaded(program_for(u));
    if (prog == nullptr) {
      throw CollectError("no BPF program for USDT probe " + u.provider + ":" + u.name);
    }
    Link l = use_multi(u, features) ? attach_usdt_multi(prog, u) : attach_usdt_probe(prog, u);
    phase(is_end(u) ? Phase::kEnds : Phase::kBegins).push_back(std::move(l));
  }
}

void Collector::Impl::attach_more(const Plan &more) {
  if (detached) {
    return;
  }
  if (!more.uprobes.empty() && bpf_program__fd(skel->progs.fn_entry) < 0) {
    throw CollectError("function probes found later, but their programs were not loaded");
  }
  Plan fns;
  const auto base = static_cast<uint32_t>(plan.functions.size());
  fns.uprobes = more.uprobes;
  for (auto &u : fns.uprobes) {
    for (auto &site : u.sites) {
      site.probe_id += base;
    }
  }
  plan.functions.insert(plan.functions.end(), more.functions.begin(), more.functions.end());
  fns.usdt = more.usdt;
  guard_sites(fns);
  if (!fns.uprobes.empty()) {
    attach_functions(fns, true);
  }
  attach_usdt(more.usdt);
  if (!fns.uprobes.empty()) {
    attach_functions(fns, false);
  }
  plan.usdt.insert(plan.usdt.end(), more.usdt.begin(), more.usdt.end());
  plan.uprobes.insert(plan.uprobes.end(), fns.uprobes.begin(), fns.uprobes.end());
}

// Stop and detach within milliseconds: see hand_off_perf_fds.
void Collector::Impl::detach() {
  if (skel == nullptr || detached) {
    return;
  }
  detached = true;
  const auto t0 = Clock::now();
  skel->bss->ks_paused = 1;
  warmup.stop();
  // Multi-uprobe links go to the hand-off by number; the perf events of
  // libbpf's links it finds itself.
  std::vector<int> multi_links;
  for (const auto &in_phase : links) {
    for (const Link &l : in_phase) {
      if (l.is_fd()) {
        multi_links.push_back(l.fd());
      }
    }
  }
  const std::vector<int> placeholders = warmup.links();
  multi_links.insert(multi_links.end(), placeholders.begin(), placeholders.end());
  multi_links.insert(multi_links.end(), guard.links().begin(), guard.links().end());
  if (hand_off_perf_fds(multi_links)) {
    warmup.handed_off();
    guard.handed_off();
  } else {
    spdlog::debug("could not hand off the uprobes; detaching them in place (slow)");
  }
  // Handed off (now /dev/null), or, if that failed, one RCU grace period
  // per multi-uprobe link, not per uprobe. Begins first: no new frames
  // after this; then ends; then the tracepoints and iterators.
  for (size_t p = links.size(); p-- > 0;) {
    links[p].clear();
  }
  expire_links.clear();
  iter_links.clear();
  detach_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  spdlog::debug("detached in {:.1f} ms", detach_ms);
}

} // namespace kernspan::collect
