// SPDX-License-Identifier: Apache-2.0
// The Collector's public face: start (load, poll set-up, attach), run and
// wait, and the readers the summary and /metrics use. Each job lives in
// its own file: see docs/ARCHITECTURE.md, "userspace/collect".
#include "collect/collector.hpp"

#include "collect/attach.hpp"
#include "collect/collector_impl.hpp"
#include "collect/libbpf_log.hpp"
#include "collect/readers.hpp"

#include "bpf/kernspan.h"
#include "kernspan.skel.h"

#include <algorithm>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <future>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

namespace kernspan::collect {

std::string errstr(int err) {
  return std::strerror(err < 0 ? -err : err);
}

const char *to_string(StopReason r) {
  switch (r) {
  case StopReason::kSignal:
    return "interrupted";
  case StopReason::kDuration:
    return "duration elapsed";
  case StopReason::kTargetsExited:
    return "target exited";
  }
  return "?";
}

Collector::Impl::Impl()
    : handler(plan, clock,
              SpanNamer(
                  [this](uint32_t pid, uint64_t addr) {
                    return read_target_string(pid, addr, plan.max_string);
                  },
                  read_thread_comm,
                  [this](uint32_t tgid, uint32_t *parent) {
                    __u32 key = tgid;
                    __u32 value = 0;
                    if (skel == nullptr ||
                        bpf_map__lookup_elem(skel->maps.follow_parent, &key, sizeof(key), &value,
                                             sizeof(value), 0) != 0) {
                      return false;
                    }
                    *parent = value;
                    return true;
                  })) {}

Collector::Impl::~Impl() {
  warmup.stop(); // its placeholders go in detach's hand-off (if attach never finished)
  detach();
  if (rb != nullptr) {
    ring_buffer__free(rb);
  }
  for (ks_kernspan *s : late) {
    ks_kernspan__destroy(s);
  }
  if (skel != nullptr) {
    ks_kernspan__destroy(skel);
  }
  for (int fd : pidfds) {
    if (fd >= 0) {
      close(fd);
    }
  }
  if (stop_fd >= 0) {
    close(stop_fd);
  }
  if (rb_positions != nullptr) {
    munmap(rb_positions, rb_positions_len);
  }
  if (stats_fd >= 0) {
    close(stats_fd);
  }
  if (epoll_fd >= 0) {
    close(epoll_fd);
  }
}

std::unique_ptr<Collector> Collector::start(const Plan &plan) {
  install_libbpf_log(plan.verbose);
  auto impl = std::make_unique<Impl>();
  impl->plan = plan;
  impl->handler.namer().set_follow_children(plan.follow.children);
  const auto t0 = Clock::now();
  // The kernel's features (a few ms) are found while the object opens.
  impl->pending_features = std::async(std::launch::async, probe_features, plan.force_raw_tp);
  impl->warmup.start();
  impl->load();
  spdlog::debug("open and load took {:.1f} ms",
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  impl->setup_poll(); // pidfds before attach: an exit during attach is seen
  impl->attach();
  const auto t1 = Clock::now();
  impl->warmup.stop();
  spdlog::debug("warm-up stopped in {:.1f} ms",
                std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
  return std::unique_ptr<Collector>(new Collector(std::move(impl)));
}

Collector::Collector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Collector::~Collector() = default;

void Collector::request_stop() {
  const uint64_t one = 1;
  // async-signal-safe; a full counter still wakes the poll
  [[maybe_unused]] auto n = write(impl_->stop_fd, &one, sizeof(one));
}

StopReason Collector::run(const SpanFn &on_span, const TickFn &on_tick) {
  Impl &m = *impl_;
  m.on_span = &on_span;
  const auto t0 = Clock::now();
  auto next_tick = t0 + std::chrono::seconds(1);
  StopReason why = StopReason::kSignal;
  bool stop = false;
  while (!stop) {
    stop = m.poll_once(m.plan.poll_ms);
    const auto now = Clock::now();
    if (!stop && m.all_exited()) {
      stop = true;
      why = StopReason::kTargetsExited;
    }
    if (m.plan.duration_s > 0 && !stop &&
        now - t0 >= std::chrono::duration<double>(m.plan.duration_s)) {
      stop = true;
      why = StopReason::kDuration;
    }
    if (now >= next_tick) {
      m.expire_spans();
      m.rescan_targets();
      if (on_tick) {
        on_tick();
      }
      next_tick = now + std::chrono::seconds(1);
    }
  }
  m.detach();
  ring_buffer__consume(m.rb); // what was submitted before the detach
  return why;
}

bool Collector::wait(double seconds) {
  Impl &m = *impl_;
  static const SpanFn discard = [](core::Span &&) {};
  if (m.on_span == nullptr) {
    m.on_span = &discard;
  }
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(seconds));
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return true;
    }
    if (m.poll_once(static_cast<int>(std::min<long long>(left, m.plan.poll_ms)))) {
      return false;
    }
    if (m.all_exited()) {
      return false;
    }
  }
}

std::vector<core::ThreadCosts> Collector::threads() {
  Impl &m = *impl_;
  if (!m.plan.threads || m.skel == nullptr || m.detached) {
    return {};
  }
  if (m.iter_links.empty()) {
    for (pid_t t : m.plan.tgids) {
      Link l = attach_task_iterator(m.skel->progs.dump_threads, t);
      if (l.empty()) {
        throw CollectError("cannot attach the thread iterator to PID " + std::to_string(t) + ": " +
                           errstr(errno));
      }
      m.iter_links.push_back(std::move(l));
    }
  }
  return read_threads(m.iter_links);
}

core::DropCounts Collector::drops() const {
  return read_drops(impl_->skel, impl_->plan.mode, impl_->handler.decode_errors());
}

core::DropCounts Collector::mode_counts() const {
  return read_mode_counts(impl_->skel);
}

std::vector<core::SpanAggregate> Collector::span_aggregates() const {
  const Impl &m = *impl_;
  if (m.plan.mode != Mode::kStats || m.skel == nullptr) {
    return {};
  }
  return read_span_aggregates(m.skel, m.plan, m.handler.namer());
}

void Collector::attach_more(const Plan &more) {
  impl_->attach_more(more);
}

std::vector<pid_t> Collector::traced() {
  impl_->rescan_targets();
  std::vector<pid_t> out;
  for (size_t i = 0; i < impl_->pidfds.size(); i++) {
    if (impl_->pidfds[i] >= 0) {
      out.push_back(impl_->pidfd_pids[i]);
    }
  }
  return out;
}

uint64_t Collector::records() const {
  return impl_->handler.records();
}
size_t Collector::attached() const {
  size_t n = 0; // libbpf's USDT links: one per probe and process
  for (const Phase p : {Phase::kEnds, Phase::kBegins}) {
    for (const Link &l : impl_->links[static_cast<size_t>(p)]) {
      n += l.is_fd() ? 0 : 1;
    }
  }
  for (const auto &u : impl_->plan.usdt) {
    n += use_multi(u, impl_->features) ? 1 : 0; // a probe's sites in one multi-uprobe link
  }
  for (const auto &u : impl_->plan.uprobes) {
    n += 2 * u.sites.size(); // an entry and a return uprobe each
  }
  return n - 2 * impl_->refused_sites.size();
}
std::vector<std::pair<std::string, uint64_t>> Collector::usdt_counts() const {
  return read_usdt_counts(impl_->skel, impl_->plan);
}
double Collector::detach_ms() const {
  return impl_->detach_ms;
}
double Collector::attach_ms() const {
  return impl_->attach_ms;
}
const std::string &Collector::variant() const {
  return impl_->variant;
}

core::RingbufFill Collector::ringbuf_fill() const {
  core::RingbufFill f;
  f.known = impl_->rb_positions != nullptr;
  f.size_bytes = impl_->plan.ringbuf_bytes;
  f.used_bytes = impl_->rb_used();
  f.max_used_bytes = std::max(impl_->rb_max_used, f.used_bytes);
  return f;
}

std::vector<core::BpfProgramStats> Collector::program_stats() const {
  std::vector<const bpf_object *> objs = {impl_->skel->obj};
  for (const ks_kernspan *s : impl_->late) { // loaded for objects found later
    objs.push_back(s->obj);
  }
  return read_program_stats(objs);
}

bool Collector::bpf_stats_enabled() const {
  return impl_->stats_fd >= 0 || bpf_stats_sysctl_on();
}

} // namespace kernspan::collect
