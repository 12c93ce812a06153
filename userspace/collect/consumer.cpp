// SPDX-License-Identifier: Apache-2.0
// The consumer: one epoll loop (ring buffer, stop eventfd, a pidfd per
// target) for run() and wait(), each record handed to the RecordHandler
// (decode and naming), and the set of traced processes as the kernel grows
// it.
#include "collect/attach.hpp"
#include "collect/collector_impl.hpp"
#include "collect/readers.hpp"

#include "bpf/kernspan.h"
#include "kernspan.skel.h"

#include <algorithm>
#include <array>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kernspan::collect {
namespace {

int pidfd_open(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

} // namespace

// One pass of the loop: wait up to `timeout_ms` for an event, note the
// targets that exited, then sweep the ring buffer. Records are submitted
// without wake-ups: sweep on every pass, noting how full the buffer got
// first. True if a stop was requested.
bool Collector::Impl::poll_once(int timeout_ms) {
  std::array<epoll_event, 16> evs{};
  const int n = epoll_wait(epoll_fd, evs.data(), static_cast<int>(evs.size()), timeout_ms);
  if (n < 0 && errno != EINTR) {
    throw CollectError("epoll_wait failed: " + errstr(errno));
  }
  bool stop = false;
  for (int i = 0; i < n; i++) {
    const uint64_t tag = evs[static_cast<size_t>(i)].data.u64;
    if (tag == 1) {
      stop = true;
    } else if (tag >= 2) {
      exited(tag);
    }
  }
  rb_max_used = std::max(rb_max_used, rb_used());
  const int c = ring_buffer__consume(rb);
  if (c < 0 && c != -EINTR) {
    throw CollectError("reading the ring buffer failed: " + errstr(c));
  }
  return stop;
}

int Collector::Impl::on_record(void *ctx, void *data, size_t size) {
  auto *self = static_cast<Impl *>(ctx);
  self->handler.handle(data, size, *self->on_span);
  return 0;
}

// Bytes written but not yet consumed; 0 if the positions are unmapped.
uint64_t Collector::Impl::rb_used() const {
  if (rb_positions == nullptr) {
    return 0;
  }
  const auto *base = static_cast<const char *>(rb_positions);
  const auto *consumer = reinterpret_cast<const uint64_t *>(base);
  const auto *producer = reinterpret_cast<const uint64_t *>(base + rb_positions_len / 2);
  const uint64_t c = __atomic_load_n(consumer, __ATOMIC_ACQUIRE);
  const uint64_t p = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
  return p > c ? p - c : 0;
}

void Collector::Impl::setup_poll() {
  rb = ring_buffer__new(bpf_map__fd(skel->maps.events), &Impl::on_record, this, nullptr);
  if (rb == nullptr) {
    throw CollectError("cannot set up the ring buffer: " + errstr(errno));
  }
  // Page 0 holds the consumer position, page 1 the producer position
  // (the data pages follow); libbpf maps them too, we only read.
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void *pos = mmap(nullptr, 2 * page, PROT_READ, MAP_SHARED, bpf_map__fd(skel->maps.events), 0);
  if (pos == MAP_FAILED) {
    spdlog::debug("cannot map the ring buffer positions ({}): no fill level", errstr(errno));
  } else {
    rb_positions = pos;
    rb_positions_len = 2 * page;
  }
  if (plan.bpf_stats) {
    stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (stats_fd < 0) {
      spdlog::debug("cannot enable BPF run-time stats: {}", errstr(stats_fd));
    }
  }
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd < 0 || stop_fd < 0) {
    throw CollectError("cannot create epoll/eventfd: " + errstr(errno));
  }
  auto add = [&](int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      throw CollectError("epoll_ctl failed: " + errstr(errno));
    }
  };
  add(ring_buffer__epoll_fd(rb), 0);
  add(stop_fd, 1);
  for (pid_t t : plan.tgids) {
    if (!track(t) && !plan.follow.dynamic()) {
      throw CollectError("PID " + std::to_string(t) + " exited before tracing began");
    }
  }
}

// Watch a process's exit through a pidfd in the epoll set; false if it
// is already gone.
bool Collector::Impl::track(pid_t pid) {
  const int fd = pidfd_open(pid);
  if (fd < 0) {
    known[pid] = false;
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 2 + pidfds.size();
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    close(fd);
    throw CollectError("epoll_ctl failed: " + errstr(errno));
  }
  pidfds.push_back(fd);
  pidfd_pids.push_back(pid);
  known[pid] = true;
  return true;
}

// A pidfd fired (tag from epoll): that process has exited.
void Collector::Impl::exited(uint64_t tag) {
  int &fd = pidfds[tag - 2];
  if (fd >= 0) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    fd = -1;
    known[pidfd_pids[tag - 2]] = false;
  }
}

size_t Collector::Impl::alive() const {
  size_t n = 0;
  for (int fd : pidfds) {
    n += fd >= 0 ? 1 : 0;
  }
  return n;
}

// Read the kernel's target set: watch the processes that joined it (the
// kernel added them at fork or exec), forget those that left it. Cheap:
// one syscall a member, run on the tick and when the last known exits.
void Collector::Impl::rescan_targets() {
  if (!plan.follow.dynamic()) {
    return;
  }
  std::unordered_map<pid_t, bool> in_map;
  __u32 key = 0;
  __u32 next = 0;
  const __u32 *prev = nullptr;
  while (bpf_map__get_next_key(skel->maps.targets, prev, &next, sizeof(next)) == 0) {
    in_map[static_cast<pid_t>(next)] = true;
    key = next;
    prev = &key;
  }
  for (const auto &[pid, live] : in_map) {
    if (known.count(pid) == 0) {
      track(pid);
    }
  }
  for (size_t i = 0; i < pidfds.size(); i++) {
    if (pidfds[i] >= 0 && in_map.count(pidfd_pids[i]) == 0 &&
        pidfd_pids[i] != static_cast<pid_t>(skel->rodata->targ_tgid)) {
      exited(2 + i); // left the set (exec'd another file under --binary)
    }
  }
  // A pid freed and then reused by a new member must be watched again.
  for (auto it = known.begin(); it != known.end();) {
    it = !it->second && in_map.count(it->first) == 0 ? known.erase(it) : std::next(it);
  }
}

// Every known target has exited: the trace ends unless the kernel's set
// still holds live processes (children not yet seen) or it runs until
// stopped (--binary).
bool Collector::Impl::all_exited() {
  if (plan.follow.until_stopped || pidfds.empty() || alive() != 0) {
    return false;
  }
  rescan_targets();
  return alive() == 0;
}

// --span-timeout: run the expire_spans iterator over each target's
// threads; what it reports arrives through the ring buffer.
void Collector::Impl::expire_spans() {
  if (plan.span_timeout_ns == 0 || skel == nullptr || detached ||
      !bpf_program__autoload(skel->progs.expire_spans)) {
    return;
  }
  if (expire_links.empty()) {
    for (pid_t t : plan.tgids) {
      Link l = attach_task_iterator(skel->progs.expire_spans, t);
      if (!l.empty()) { // a target already gone has nothing to expire
        expire_links.push_back(std::move(l));
      }
    }
  }
  run_iterators(expire_links);
}

} // namespace kernspan::collect
