// SPDX-License-Identifier: Apache-2.0
// The collector's state, shared by the files that each do one of its jobs:
// loader.cpp (open, choose, load), attach.cpp (attach in phase order,
// detach), consumer.cpp (the epoll loop, the target set; each record goes to
// RecordHandler).
// Internal to userspace/collect.
#pragma once

#include "collect/collector.hpp"
#include "collect/features.hpp"
#include "collect/link.hpp"
#include "collect/naming.hpp"
#include "collect/programs.hpp"
#include "collect/record_handler.hpp"
#include "collect/site_guard.hpp"
#include "collect/warmup.hpp"
#include "core/clock.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <future>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

struct bpf_program;
struct ring_buffer;
struct ks_kernspan;

namespace kernspan::collect {

using Clock = std::chrono::steady_clock;

std::string errstr(int err);

struct Collector::Impl {
  Impl();
  ~Impl();
  Impl(const Impl &) = delete;
  Impl &operator=(const Impl &) = delete;

  Plan plan;
  Features features; // what this kernel can do, probed once at load
  // The probe, run while the object opens (started by Collector::start).
  std::future<Features> pending_features;
  ks_kernspan *skel = nullptr;
  ring_buffer *rb = nullptr;
  std::vector<ks_kernspan *> late; // programs loaded after the start (loaded())
  // Attached links by Phase: attached in that order, detached in reverse.
  std::array<std::vector<Link>, 3> links;
  std::vector<Link> iter_links;   // dump_threads, one per target
  std::vector<Link> expire_links; // expire_spans (--span-timeout), one per target
  UprobeWarmup warmup;            // from load to the end of attach
  SiteGuard guard;                // probe sites kept unoptimized (site_guard.hpp)
  std::set<std::pair<std::string, uint64_t>> refused_sites; // function sites the kernel refused
  double detach_ms = 0;
  bool detached = false;
  std::string variant;
  int stop_fd = -1;
  int epoll_fd = -1;
  std::vector<int> pidfds;               // one per target; -1 once it exited
  std::vector<pid_t> pidfd_pids;         // the process of each pidfd
  std::unordered_map<pid_t, bool> known; // tgid -> alive, for the growing set
  double attach_ms = 0;
  core::ClockOffset clock = core::ClockOffset::measure();
  const SpanFn *on_span = nullptr;
  // The ring buffer's consumer and producer position pages, mapped
  // read-only (the kernel's ringbuf mmap layout), for fill levels.
  void *rb_positions = nullptr;
  size_t rb_positions_len = 0;
  uint64_t rb_max_used = 0;
  int stats_fd = -1; // BPF_ENABLE_STATS: run-time stats on while open
  // Decodes and names each record (span and thread names the kernel could
  // not send: its SpanNamer); counts records and decode errors.
  RecordHandler handler;

  std::vector<Link> &phase(Phase p) { return links[static_cast<size_t>(p)]; }

  // loader.cpp
  bool open_and_load();
  void configure_mode();
  void load();
  void configure_pairs();
  void configure_following();
  bpf_program *loaded(bpf_program *p);
  [[nodiscard]] bpf_program *program_for(const UsdtAttach &u) const;

  // attach.cpp
  void attach();
  void attach_tracepoints();
  void attach_functions(const Plan &p, bool is_return);
  void guard_sites(const Plan &p);
  void attach_usdt(const std::vector<UsdtAttach> &usdt);
  void attach_more(const Plan &more);
  void detach();

  // consumer.cpp
  static int on_record(void *ctx, void *data, size_t size);
  void setup_poll();
  bool poll_once(int timeout_ms);
  [[nodiscard]] uint64_t rb_used() const;
  bool track(pid_t pid);
  void exited(uint64_t tag);
  [[nodiscard]] size_t alive() const;
  void rescan_targets();
  bool all_exited();
  void expire_spans();
};

} // namespace kernspan::collect
