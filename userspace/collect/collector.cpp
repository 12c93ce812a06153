// SPDX-License-Identifier: Apache-2.0
#include "collect/collector.hpp"

#include "collect/pairs.hpp"
#include "collect/record_handler.hpp"
#include "collect/records.hpp"
#include "collect/site_guard.hpp"
#include "collect/uprobe_multi.hpp"
#include "core/clock.hpp"
#include "probe/usdt.hpp"

#include "kernspan.skel.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <map>
#include <poll.h>
#include <set>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace kernspan::collect {
namespace {

using Clock = std::chrono::steady_clock;

bool g_verbose = false;
bool g_quiet_libbpf = false;

int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (g_quiet_libbpf || (level == LIBBPF_DEBUG && !g_verbose)) {
    return 0;
  }
  char buf[1024];
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string s(buf, n > 0 ? std::min(static_cast<size_t>(n), sizeof(buf) - 1) : 0);
  while (!s.empty() && s.back() == '\n') {
    s.pop_back();
  }
  switch (level) {
  case LIBBPF_WARN:
    spdlog::warn("libbpf: {}", s);
    break;
  case LIBBPF_INFO:
    spdlog::info("libbpf: {}", s);
    break;
  default:
    spdlog::debug("libbpf: {}", s);
    break;
  }
  return 0;
}

const char *const kDropNames[KS_DROP_MAX] = {
    "ringbuf_full",    "span_stack_overflow", "unmatched_end",   "mismatched_end",
    "bad_traceparent", "no_task_storage",     "incomplete_span", "reserved",
    "fn_return_lost",  "async_span_full",     "sampled_out",     "filtered",
    "stats_full",      "span_timed_out",      "follow_full",     "retransmit_unattributed",
};

int pidfd_open(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

// A NUL-terminated string of at most KS_NAME_LEN - 1 bytes at `addr` in
// process `pid`, read page by page ("" if unreadable).
std::string read_target_string(uint32_t pid, uint64_t addr) {
  std::string out;
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  while (out.size() < KS_NAME_LEN - 1) {
    std::array<char, KS_NAME_LEN> buf{};
    const uint64_t want = std::min<uint64_t>(KS_NAME_LEN - 1 - out.size(), page - (addr % page));
    iovec local{buf.data(), want};
    iovec remote{std::bit_cast<void *>(static_cast<uintptr_t>(addr)), want};
    if (process_vm_readv(static_cast<pid_t>(pid), &local, 1, &remote, 1, 0) !=
        static_cast<ssize_t>(want)) {
      return out.empty() ? "" : out;
    }
    const size_t n = strnlen(buf.data(), want);
    out.append(buf.data(), n);
    if (n < want) {
      return out;
    }
    addr += want;
  }
  return out;
}

std::string errstr(int err) {
  return std::strerror(err < 0 ? -err : err);
}

// Closes `fds` (uprobe links and perf events) from up to kMaxClosers
// processes at once, in order within each: every close waits for a grace
// period, and those waited for together are one. Each helper drops the
// others' references and waits until this process has dropped its own, so
// that its close is the last reference. Perf-event uprobes still go one at a
// time (the kernel holds event_mutex through the wait); multi-uprobe links
// do not. Called in the hand-off grandchild: async-signal-safe only.
void close_in_parallel(const std::vector<int> &fds) {
  constexpr size_t kMaxClosers = 16;
  const size_t n = std::min(fds.size(), kMaxClosers);
  int go[2];
  if (n < 2 || pipe2(go, O_CLOEXEC) != 0) {
    for (int fd : fds) {
      close(fd);
    }
    return;
  }
  for (size_t k = 0; k < n; k++) {
    if (fork() == 0) { // closes fds k, k + n, k + 2n...
      close(go[1]);
      for (size_t i = 0; i < fds.size(); i++) {
        if (i % n != k) {
          close(fds[i]);
        }
      }
      char c;
      while (read(go[0], &c, 1) > 0 || errno == EINTR) {
      }
      for (size_t i = k; i < fds.size(); i += n) {
        close(fds[i]);
      }
      _exit(0);
    }
  }
  close(go[0]);
  for (int fd : fds) {
    close(fd);
  }
  close(go[1]); // the helpers read EOF: theirs are now the last references
}

// Closing a uprobe's perf event unregisters it, and the kernel waits for an
// RCU tasks-trace grace period each time, holding event_mutex: ~110 ms a
// probe here, one after another even from parallel threads. Closing a
// multi-uprobe link waits for one such period for all its probes, without
// the mutex (parallel closes share it). So kernspan does not wait: the
// programs are paused first (they return at once), a detached grandchild
// inherits copies of the perf-event and link fds, we close ours (not the last
// reference, so fast), and once we have exited (its pipe reads EOF) the
// grandchild closes the last references (close_in_parallel) and the kernel
// unregisters the probes. `link_fds`: the multi-uprobe links (the probes'
// and the warm-up's placeholders). Returns false if the hand-off could not
// be made. libbpf's link objects are destroyed as usual afterwards.
bool hand_off_perf_fds(const std::vector<int> &link_fds) {
  std::vector<int> fds = link_fds; // multi-uprobe links: one grace period each
  // The other BPF objects (tracepoint links, programs, maps): the grandchild
  // holds them too, so that freeing them is not part of kernspan's exit, but
  // closes them first, at once: held on, they kept the tracepoint programs
  // attached, paused but run on every syscall and switch, for as long as the
  // unregistering took (seconds).
  std::vector<int> bpf_objs;
  if (DIR *d = opendir("/proc/self/fd")) {
    while (dirent *e = readdir(d)) {
      char target[64] = {};
      const std::string link = std::string("/proc/self/fd/") + e->d_name;
      const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
      const int fd = std::atoi(e->d_name);
      if (n > 0 && std::strcmp(target, "anon_inode:[perf_event]") == 0) {
        fds.push_back(fd);
      } else if (n > 0 && std::strncmp(target, "anon_inode:bpf", 14) == 0 &&
                 std::find(link_fds.begin(), link_fds.end(), fd) == link_fds.end()) {
        bpf_objs.push_back(fd);
      }
    }
    closedir(d);
  }
  if (fds.empty()) {
    return true;
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    return false;
  }
  // The grandchild keeps only these (not, say, the caller's pipes).
  std::vector<int> keep = fds;
  keep.insert(keep.end(), bpf_objs.begin(), bpf_objs.end());
  keep.push_back(pipefd[0]);
  std::sort(keep.begin(), keep.end());
  const pid_t child = fork();
  if (child < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return false;
  }
  if (child == 0) {
    if (fork() == 0) { // grandchild: nobody waits for it
      // kernspan's stop handler would write to a closed (or reused) fd:
      // plain SIGINT and SIGTERM end this process, and its exit closes the
      // rest (the same unregistering, one by one).
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      sigaction(SIGINT, &dfl, nullptr);
      sigaction(SIGTERM, &dfl, nullptr);
      unsigned lo = 0; // close_range: async-signal-safe, unlike a /proc walk
      for (const int fd : keep) {
        if (static_cast<unsigned>(fd) > lo) {
          close_range(lo, static_cast<unsigned>(fd) - 1, 0);
        }
        lo = static_cast<unsigned>(fd) + 1;
      }
      close_range(lo, ~0U, 0);
      char c;
      while (read(pipefd[0], &c, 1) > 0 || errno == EINTR) {
      }
      for (int fd : bpf_objs) {
        close(fd);
      }
      close_in_parallel(fds);
    }
    _exit(0);
  }
  waitpid(child, nullptr, 0);
  close(pipefd[0]);
  // Drop our references but keep the numbers valid: libbpf will disable and
  // close what it thinks are its fds, and must not hit reused numbers.
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (int fd : fds) {
    dup3(devnull, fd, O_CLOEXEC);
  }
  close(devnull);
  // pipefd[1] stays open until we exit: then the grandchild unregisters.
  return true;
}

// The first uprobe registered after a quiet spell waits for an RCU grace
// period, 6-15 ms here: registering takes dup_mmap_sem for writing, and that
// semaphore's rcu_sync returns to its slow mode one grace period after the
// last writer left. So while the programs load, a helper thread registers a
// uprobe on an empty memfd that nothing maps (a multi-uprobe link of an empty
// program), one every 4 ms: the first pays the grace period in parallel with
// the verifier, the others keep the fast mode on, and kernspan's own probes
// then register in microseconds. Unregistering is the slow part (one grace
// period, ~85 ms): the placeholders stay open until detach, which hands them
// to its grandchild (hand_off_perf_fds); the destructor does the same if
// detach never ran.
class UprobeWarmup {
public:
  UprobeWarmup() = default;
  UprobeWarmup(const UprobeWarmup &) = delete;
  UprobeWarmup &operator=(const UprobeWarmup &) = delete;
  ~UprobeWarmup() {
    stop();
    if (!fds_.empty() && !hand_off_perf_fds(fds_)) {
      spdlog::debug("could not hand off the uprobe placeholders; closing them in place (slow)");
    }
    for (int fd : fds_) {
      close(fd);
    }
  }

  void start() {
    if (!multi_uprobe_links_supported()) {
      return; // attach pays the grace period, nothing else changes
    }
    thread_ = std::thread([this] { run(); });
  }

  // Stop registering (the placeholders stay open). Waits for a
  // registration in progress: attach would wait for the same grace period.
  void stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
  }

  // The placeholder links, for detach's hand-off (after stop()).
  [[nodiscard]] const std::vector<int> &links() const { return fds_; }
  // After that hand-off: the numbers now name /dev/null.
  void handed_off() {
    for (int fd : fds_) {
      close(fd);
    }
    fds_.clear();
  }

private:
  void run() {
    // Multi-uprobe links, not perf-event uprobes: opening and closing a
    // perf-event uprobe takes the kernel's event_mutex, and closing holds it
    // through an RCU tasks-trace grace period (~85 ms). A previous run's
    // hand-off grandchild closing its placeholders so blocked this run's
    // warm-up for up to 0.4 s. A link needs a program: two instructions.
    const int prog = load_uprobe_multi_program("ks_warmup");
    const int mfd = memfd_create("kernspan-warmup", MFD_CLOEXEC);
    const std::array<char, 16> nops{};
    if (prog >= 0 && mfd >= 0 &&
        write(mfd, nops.data(), nops.size()) == static_cast<ssize_t>(nops.size())) {
      const std::string path = "/proc/self/fd/" + std::to_string(mfd);
      const std::array<uint64_t, 1> zero{};
      for (int i = 0; i < kMaxPlaceholders && !stop_.load(); i++) {
        const int fd = uprobe_multi_link(prog, path, zero, zero, false, 0);
        if (fd < 0) {
          break;
        }
        fds_.push_back(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(4));
      }
    }
    if (mfd >= 0) {
      close(mfd);
    }
    if (prog >= 0) {
      close(prog); // the links hold it
    }
  }

  static constexpr int kMaxPlaceholders = 300;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::vector<int> fds_; // written by the thread until stop()
};

} // namespace

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

void check_environment() {
  if (geteuid() != 0) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    std::array<__user_cap_data_struct, 2> data{};
    if (syscall(SYS_capget, &hdr, data.data()) != 0) {
      throw CollectError("cannot read capabilities: run kernspan as root");
    }
    auto has = [&](unsigned cap) { return (data[cap / 32].effective & (1u << (cap % 32))) != 0; };
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

struct Collector::Impl {
  Plan plan;
  ks_kernspan *skel = nullptr;
  ring_buffer *rb = nullptr;
  std::vector<bpf_link *> links;        // span_end and the tracepoints
  std::vector<bpf_link *> begin_links;  // span_begin*
  std::vector<bpf_link *> iter_links;   // dump_threads, one per target
  std::vector<bpf_link *> expire_links; // expire_spans (--span-timeout), one per target
  std::vector<int> fn_return_links;     // multi-uprobe links (function returns)
  std::vector<int> fn_entry_links;      // multi-uprobe links (function entries)
  std::vector<ks_kernspan *> late;      // programs loaded after the start (loaded())
  UprobeWarmup warmup;                  // from load to the end of attach
  SiteGuard guard;                      // probe sites kept unoptimized (site_guard.hpp)
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
  RecordHandler handler{plan, clock, lookups()};
  const SpanFn *on_span = nullptr;
  // The ring buffer's consumer and producer position pages, mapped
  // read-only (the kernel's ringbuf mmap layout), for fill levels.
  void *rb_positions = nullptr;
  size_t rb_positions_len = 0;
  uint64_t rb_max_used = 0;
  int stats_fd = -1; // BPF_ENABLE_STATS: run-time stats on while open

  ~Impl() {
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

  // Stop and detach within milliseconds: see hand_off_perf_fds.
  void detach() {
    if (skel == nullptr || detached) {
      return;
    }
    detached = true;
    const auto t0 = Clock::now();
    skel->bss->ks_paused = 1;
    warmup.stop();
    std::vector<int> multi_links = fn_entry_links;
    multi_links.insert(multi_links.end(), fn_return_links.begin(), fn_return_links.end());
    multi_links.insert(multi_links.end(), warmup.links().begin(), warmup.links().end());
    multi_links.insert(multi_links.end(), guard.links().begin(), guard.links().end());
    if (hand_off_perf_fds(multi_links)) {
      warmup.handed_off();
      guard.handed_off();
    } else {
      spdlog::debug("could not hand off the uprobes; detaching them in place (slow)");
    }
    // Handed off (now /dev/null), or, if that failed, one RCU grace period
    // per link, not per uprobe: close them in place.
    for (int fd : fn_entry_links) { // entries first: no new frames after this
      close(fd);
    }
    for (int fd : fn_return_links) {
      close(fd);
    }
    fn_entry_links.clear();
    fn_return_links.clear();
    for (auto *l : begin_links) { // begins first: no new frames after this
      bpf_link__destroy(l);
    }
    for (auto *l : links) {
      bpf_link__destroy(l);
    }
    for (auto *l : expire_links) {
      bpf_link__destroy(l);
    }
    expire_links.clear();
    for (auto *l : iter_links) {
      bpf_link__destroy(l);
    }
    iter_links.clear();
    begin_links.clear();
    links.clear();
    if (skel != nullptr) {
      ks_kernspan__detach(skel);
    }
    detach_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    spdlog::debug("detached in {:.1f} ms", detach_ms);
  }

  static int on_record(void *ctx, void *data, size_t size) {
    auto *self = static_cast<Impl *>(ctx);
    self->handler.handle(data, size, *self->on_span);
    return 0;
  }

  // Names the kernel could not read: from the target, else (a followed
  // child) from the process that forked it.
  RecordHandler::Lookups lookups() {
    RecordHandler::Lookups l;
    l.read_string = read_target_string;
    l.parent_of = [this](uint32_t child, uint32_t &parent) {
      __u32 p = 0;
      if (bpf_map__lookup_elem(skel->maps.follow_parent, &child, sizeof(child), &p, sizeof(p), 0) !=
          0) {
        return false;
      }
      parent = p;
      return true;
    };
    return l;
  }

  // --span-timeout: run the expire_spans iterator over each target's
  // threads; what it reports arrives through the ring buffer.
  void expire_spans() {
    if (plan.span_timeout_ns == 0 || skel == nullptr || detached ||
        !bpf_program__autoload(skel->progs.expire_spans)) {
      return;
    }
    if (expire_links.empty()) {
      for (pid_t t : plan.tgids) {
        union bpf_iter_link_info info {};
        info.task.pid = static_cast<__u32>(t);
        bpf_iter_attach_opts opts{};
        opts.sz = sizeof(opts);
        opts.link_info = &info;
        opts.link_info_len = sizeof(info);
        bpf_link *l = bpf_program__attach_iter(skel->progs.expire_spans, &opts);
        if (l != nullptr) { // a target already gone has nothing to expire
          expire_links.push_back(l);
        }
      }
    }
    for (auto *l : expire_links) {
      const int fd = bpf_iter_create(bpf_link__fd(l));
      if (fd < 0) {
        continue;
      }
      std::array<char, 256> sink{};
      while (read(fd, sink.data(), sink.size()) > 0) {
      }
      close(fd);
    }
  }

  // With send_start, the retransmit sender is noted where a TCP send begins
  // (tp_btf/tcp_sendmsg_locked, Linux 6.16+); load() tries without it next.
  bool open_and_load(bool use_tp_btf, bool send_start) {
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
    configure_mode();
    int err = bpf_map__set_max_entries(skel->maps.events, plan.ringbuf_bytes);
    if (err != 0) {
      throw CollectError("ring buffer size " + std::to_string(plan.ringbuf_bytes) +
                         " rejected: use a power of two (" + errstr(err) + ")");
    }
    // Load only what the plan attaches: each program costs verifier time.
    for (bpf_program *p :
         {skel->progs.span_begin_m, skel->progs.span_begin_remote_m, skel->progs.span_end_m}) {
      bpf_program__set_expected_attach_type(p, static_cast<bpf_attach_type>(kAttachUprobeMulti));
    }
    for (bpf_program *p :
         {skel->progs.span_begin, skel->progs.span_begin_usdt, skel->progs.span_begin_remote,
          skel->progs.span_begin_remote_usdt, skel->progs.span_end, skel->progs.span_end_usdt,
          skel->progs.span_begin_m, skel->progs.span_begin_remote_m, skel->progs.span_end_m}) {
      bool used = false;
      for (const auto &u : plan.usdt) {
        used = used || program_for(skel, u, plan.bench_span_floor) == p;
      }
      // Objects found later that need another one load it then (loaded()).
      bpf_program__set_autoload(p, used);
    }
    // Function uprobes only when asked for: older kernels reject the
    // multi-uprobe attach type at load.
    // USDT pairs and counters likewise: pair_end alone takes the verifier
    // tens of milliseconds.
    for (bpf_program *p : {skel->progs.pair_begin, skel->progs.pair_end, skel->progs.usdt_count}) {
      bool used = false;
      for (const auto &u : plan.usdt) {
        used = used || u.program == bpf_program__name(p);
      }
      bpf_program__set_autoload(p, used);
    }
    // The table of async spans in flight is preallocated (16384 x ~400
    // bytes, ~4 ms of start-up to zero): one entry unless a --span pairs
    // its begin and end by an id.
    const bool async = std::any_of(plan.pairs.begin(), plan.pairs.end(),
                                   [](const auto &p) { return p.id_arg >= 0; });
    if (!async) {
      bpf_map__set_max_entries(skel->maps.async_spans, 1);
    }
    bpf_program__set_autoload(skel->progs.floor_span_m, plan.bench_span_floor);
    bpf_program__set_autoload(skel->progs.floor_span_usdt, plan.bench_span_floor);
    skel->rodata->targ_floor_clock = plan.bench_floor_work;
    bpf_program__set_expected_attach_type(skel->progs.floor_span_m,
                                          static_cast<bpf_attach_type>(kAttachUprobeMulti));
    const bool fns = !plan.uprobes.empty() || plan.follow.load_function_programs;
    bpf_program__set_autoload(skel->progs.fn_entry, fns);
    bpf_program__set_autoload(skel->progs.fn_return, fns);
    bpf_program__set_expected_attach_type(skel->progs.fn_entry,
                                          static_cast<bpf_attach_type>(kAttachUprobeMulti));
    bpf_program__set_expected_attach_type(skel->progs.fn_return,
                                          static_cast<bpf_attach_type>(kAttachUprobeMulti));
    bpf_program__set_autoload(skel->progs.thread_exit, use_tp_btf);
    bpf_program__set_autoload(skel->progs.thread_exit_raw, !use_tp_btf);
    // raw_tp cannot reach another task's storage: without task_rename,
    // every record carries its comm.
    bpf_program__set_autoload(skel->progs.task_rename, use_tp_btf);
    skel->rodata->targ_comm_once = use_tp_btf ? 1 : 0;
    // Cost programs: the tp_btf sched_switch reaches any task's storage;
    // its raw_tp twin parks switch-ins per CPU.
    bpf_program__set_autoload(skel->progs.sched_switch, plan.costs && use_tp_btf);
    bpf_program__set_autoload(skel->progs.sched_switch_raw, plan.costs && !use_tp_btf);
    skel->rodata->targ_sched_clock = plan.costs && use_tp_btf ? 1 : 0;
    // Syscall and socket programs; not in the scheduler-only bench variant.
    const bool io = plan.costs && !plan.bench_sched_only;
    for (auto *p : {skel->progs.sys_enter, skel->progs.sock_recv}) {
      bpf_program__set_autoload(p, io);
    }
    bpf_program__set_autoload(skel->progs.sys_exit_btf, io && use_tp_btf);
    bpf_program__set_autoload(skel->progs.sys_exit, io && !use_tp_btf);
    // Socket senders are remembered (for retransmits) only with tp_btf.
    const bool retrans = io && use_tp_btf;
    bpf_program__set_autoload(skel->progs.sock_send, io && !retrans);
    bpf_program__set_autoload(skel->progs.sock_send_btf, retrans);
    bpf_program__set_autoload(skel->progs.tcp_retransmit, retrans);
    bpf_program__set_autoload(skel->progs.tcp_send_start, retrans && send_start);
    skel->rodata->targ_sender_at_start = retrans && send_start ? 1 : 0;
    bpf_program__set_autoload(skel->progs.dump_threads, plan.threads && use_tp_btf);
    bpf_program__set_autoload(skel->progs.floor_sched_switch, plan.bench_floor);
    for (auto *p : {skel->progs.floor_sys_enter, skel->progs.floor_sys_exit}) {
      bpf_program__set_autoload(p, plan.bench_floor && !plan.bench_sched_only);
    }
    bpf_program__set_autoattach(skel->progs.dump_threads, false); // per target, in threads()
    // --span-timeout: an iterator run each tick (needs BTF, as tp_btf does).
    bpf_program__set_autoload(skel->progs.expire_spans, plan.span_timeout_ns != 0 && use_tp_btf);
    bpf_program__set_autoattach(skel->progs.expire_spans, false);
    skel->rodata->targ_span_timeout_ns = plan.span_timeout_ns;
    g_quiet_libbpf = use_tp_btf && !g_verbose; // a failed first try is expected on old kernels
    // With -v: the verifier's statistics per program (BPF_LOG_STATS).
    std::map<std::string, std::vector<char>> stats_logs;
    if (g_verbose) {
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
    g_quiet_libbpf = false;
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
  void configure_mode() {
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
  }

  void load() {
    if (plan.threads && plan.force_raw_tp) {
      throw CollectError("the per-thread view needs tp_btf/iterator support");
    }
    const bool send_start = plan.costs && !plan.bench_sched_only;
    bool loaded = false;
    if (!plan.force_raw_tp) {
      loaded = open_and_load(true, send_start);
      if (!loaded && send_start) {
        spdlog::debug("no tcp_sendmsg_locked tracepoint (Linux < 6.16?): retransmit senders are "
                      "noted when their send returns");
        loaded = open_and_load(true, false);
      }
    }
    if (!loaded) {
      spdlog::debug("tp_btf unavailable, using raw_tp");
      open_and_load(false, false);
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

  static bool is_end(const UsdtAttach &u) {
    return u.program.empty() ? u.name == "span_end" : u.program != "pair_begin";
  }

  // --span configuration, written after load.
  void configure_pairs() {
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

  // The program for a USDT probe: a named one (--span, --usdt), else for
  // kernspan's own probes the register-reading one where every site passes
  // its arguments in registers, else libbpf's generic.
  // Kernel's own probes with known sites go through multi-uprobe links
  // (Linux 6.6+), others through libbpf's USDT attach.
  static bool use_multi(const UsdtAttach &u) {
    return u.regs && u.program.empty() && !u.site_offsets.empty() && multi_uprobe_links_supported();
  }

  // `p`, loaded: a span program no object had at start (a library
  // dlopened later brings a new probe kind) is loaded now, in an instance of
  // its own that shares every map of the first. The start verifies only what
  // it attaches: span_begin_remote_m alone is ~5 ms of verifier time.
  bpf_program *loaded(bpf_program *p) {
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

  static bpf_program *program_for(const ks_kernspan *sk, const UsdtAttach &u, bool floor) {
    if (!u.program.empty()) {
      return bpf_object__find_program_by_name(sk->obj, u.program.c_str());
    }
    const bool multi = use_multi(u);
    if (floor) {
      return multi ? sk->progs.floor_span_m : sk->progs.floor_span_usdt;
    }
    if (u.name == "span_begin") {
      return multi ? sk->progs.span_begin_m
                   : (u.regs ? sk->progs.span_begin : sk->progs.span_begin_usdt);
    }
    if (u.name == "span_begin_remote") {
      return multi ? sk->progs.span_begin_remote_m
                   : (u.regs ? sk->progs.span_begin_remote : sk->progs.span_begin_remote_usdt);
    }
    if (u.name == "span_end") {
      return multi ? sk->progs.span_end_m : (u.regs ? sk->progs.span_end : sk->progs.span_end_usdt);
    }
    return nullptr;
  }

  void attach() {
    const auto t0 = Clock::now();
    // Tracepoints first: task_rename must be live before the first span
    // (a program renaming a thread right after our probes appear would
    // otherwise keep its old comm in our records), and costs count from
    // the first begin.
    int err = ks_kernspan__attach(skel); // thread exit, rename and the cost tracepoints
    if (err != 0) {
      throw CollectError("cannot attach the thread-exit and cost tracepoints: " + errstr(err));
    }
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
  void attach_functions(const Plan &p, bool is_return) {
    const int prog = bpf_program__fd(is_return ? skel->progs.fn_return : skel->progs.fn_entry);
    const auto refused =
        attach_function_probes(p, prog, is_return, is_return ? fn_return_links : fn_entry_links);
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
  void guard_sites(const Plan &p) {
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
  void attach_usdt(const std::vector<UsdtAttach> &usdt) {
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
      bpf_program *prog = loaded(program_for(skel, u, plan.bench_span_floor));
      if (prog == nullptr) {
        throw CollectError("no BPF program for USDT probe " + u.provider + ":" + u.name);
      }
      if (use_multi(u)) {
        const std::vector<uint64_t> cookies(u.site_offsets.size(), 0);
        const bool any_sema = std::any_of(u.semaphore_offsets.begin(), u.semaphore_offsets.end(),
                                          [](uint64_t o) { return o != 0; });
        const int fd = uprobe_multi_link(bpf_program__fd(prog), u.object, u.site_offsets, cookies,
                                         false, u.pid,
                                         any_sema ? std::span<const uint64_t>(u.semaphore_offsets)
                                                  : std::span<const uint64_t>());
        if (fd < 0) {
          if (u.pid > 0 && kill(u.pid, 0) != 0) {
            throw CollectError("PID " + std::to_string(u.pid) + " exited while attaching");
          }
          throw CollectError("cannot attach to USDT " + u.provider + ":" + u.name + " in " +
                             u.object + ": " + std::strerror(-fd));
        }
        (is_end(u) ? fn_return_links : fn_entry_links).push_back(fd);
        continue;
      }
      bpf_usdt_opts uopts{}; // not LIBBPF_OPTS: a C99 compound literal
      uopts.sz = sizeof(uopts);
      uopts.usdt_cookie = u.cookie;
      bpf_link *l = bpf_program__attach_usdt(prog, u.pid, u.object.c_str(), u.provider.c_str(),
                                             u.name.c_str(), &uopts);
      if (l == nullptr) {
        const int err = errno;
        if (u.pid > 0 && kill(u.pid, 0) != 0) {
          throw CollectError("PID " + std::to_string(u.pid) + " exited while attaching");
        }
        throw CollectError("cannot attach to USDT " + u.provider + ":" + u.name + " in " +
                           u.object + ": " + errstr(err));
      }
      (is_end(u) ? links : begin_links).push_back(l);
    }
  }

  // Bytes written but not yet consumed; 0 if the positions are unmapped.
  [[nodiscard]] uint64_t rb_used() const {
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

  void setup_poll() {
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

  // --- Following: a target set that grows -----------------------

  void configure_following() {
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

  // Watch a process's exit through a pidfd in the epoll set; false if it
  // is already gone.
  bool track(pid_t pid) {
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
  void exited(uint64_t tag) {
    int &fd = pidfds[tag - 2];
    if (fd >= 0) {
      epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
      close(fd);
      fd = -1;
      known[pidfd_pids[tag - 2]] = false;
    }
  }

  [[nodiscard]] size_t alive() const {
    size_t n = 0;
    for (int fd : pidfds) {
      n += fd >= 0 ? 1 : 0;
    }
    return n;
  }

  // Read the kernel's target set: watch the processes that joined it (the
  // kernel added them at fork or exec), forget those that left it. Cheap:
  // one syscall a member, run on the tick and when the last known exits.
  void rescan_targets() {
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
  bool all_exited() {
    if (plan.follow.until_stopped || pidfds.empty() || alive() != 0) {
      return false;
    }
    rescan_targets();
    return alive() == 0;
  }

  void attach_more(const Plan &more) {
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
};

std::unique_ptr<Collector> Collector::start(const Plan &plan) {
  g_verbose = plan.verbose;
  libbpf_set_print(libbpf_log);
  auto impl = std::make_unique<Impl>();
  impl->plan = plan;
  const auto t0 = Clock::now();
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
    std::array<epoll_event, 16> evs{};
    const int n = epoll_wait(m.epoll_fd, evs.data(), static_cast<int>(evs.size()), m.plan.poll_ms);
    if (n < 0 && errno != EINTR) {
      throw CollectError("epoll_wait failed: " + errstr(errno));
    }
    for (int i = 0; i < n; i++) {
      const uint64_t tag = evs[static_cast<size_t>(i)].data.u64;
      if (tag == 1) {
        stop = true;
        why = StopReason::kSignal;
      } else if (tag >= 2) {
        m.exited(tag);
      }
    }
    // Records are submitted without wake-ups: sweep on every pass, noting
    // how full the buffer got first.
    m.rb_max_used = std::max(m.rb_max_used, m.rb_used());
    const int c = ring_buffer__consume(m.rb);
    if (c < 0 && c != -EINTR) {
      throw CollectError("reading the ring buffer failed: " + errstr(c));
    }
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
    std::array<epoll_event, 16> evs{};
    const int n = epoll_wait(m.epoll_fd, evs.data(), static_cast<int>(evs.size()),
                             static_cast<int>(std::min<long long>(left, m.plan.poll_ms)));
    if (n < 0 && errno != EINTR) {
      throw CollectError("epoll_wait failed: " + errstr(errno));
    }
    for (int i = 0; i < n; i++) {
      const uint64_t tag = evs[static_cast<size_t>(i)].data.u64;
      if (tag == 1) {
        return false;
      }
      if (tag >= 2) {
        m.exited(tag);
      }
    }
    ring_buffer__consume(m.rb);
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
      union bpf_iter_link_info info {};
      info.task.pid = static_cast<__u32>(t); // only this process's threads
      bpf_iter_attach_opts opts{};           // LIBBPF_OPTS is a C99 compound literal
      opts.sz = sizeof(opts);
      opts.link_info = &info;
      opts.link_info_len = sizeof(info);
      bpf_link *l = bpf_program__attach_iter(m.skel->progs.dump_threads, &opts);
      if (l == nullptr) {
        throw CollectError("cannot attach the thread iterator to PID " + std::to_string(t) + ": " +
                           errstr(errno));
      }
      m.iter_links.push_back(l);
    }
  }
  std::vector<core::ThreadCosts> out;
  for (auto *l : m.iter_links) {
    const int fd = bpf_iter_create(bpf_link__fd(l));
    if (fd < 0) {
      throw CollectError("cannot read the thread iterator: " + errstr(errno));
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

namespace {

// A slot of the per-CPU `drops` array, summed over the CPUs.
uint64_t drop_slot(const ks_kernspan *skel, uint32_t slot) {
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> vals(static_cast<size_t>(ncpu > 0 ? ncpu : 1));
  uint64_t sum = 0;
  if (bpf_map__lookup_elem(skel->maps.drops, &slot, sizeof(slot), vals.data(),
                           vals.size() * sizeof(uint64_t), 0) == 0) {
    for (auto v : vals) {
      sum += v;
    }
  }
  return sum;
}

bool is_choice(uint32_t slot) {
  return slot == KS_DROP_SAMPLED_OUT || slot == KS_DROP_FILTERED;
}

} // namespace

core::DropCounts Collector::drops() const {
  core::DropCounts out;
  for (uint32_t slot = 0; slot < KS_DROP_MAX; slot++) {
    if (std::strcmp(kDropNames[slot], "reserved") == 0 || is_choice(slot)) {
      continue;
    }
    if (slot == KS_DROP_STATS_FULL && impl_->plan.mode != Mode::kStats) {
      continue;
    }
    out.add(kDropNames[slot], drop_slot(impl_->skel, slot));
  }
  out.add("decode_error", impl_->handler.decode_errors());
  return out;
}

core::DropCounts Collector::mode_counts() const {
  core::DropCounts out;
  out.add(kDropNames[KS_DROP_SAMPLED_OUT], drop_slot(impl_->skel, KS_DROP_SAMPLED_OUT));
  out.add(kDropNames[KS_DROP_FILTERED], drop_slot(impl_->skel, KS_DROP_FILTERED));
  return out;
}

std::vector<core::SpanAggregate> Collector::span_aggregates() const {
  const Impl &m = *impl_;
  if (m.plan.mode != Mode::kStats || m.skel == nullptr) {
    return {};
  }
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<ks_stat_val> vals(static_cast<size_t>(ncpu > 0 ? ncpu : 1));
  std::map<std::string, core::SpanAggregate> by_name;
  ks_stat_key key{};
  ks_stat_key next{};
  const bpf_map *map = m.skel->maps.span_stats;
  const ks_stat_key *prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    key = next;
    prev = &key;
    if (bpf_map__lookup_elem(map, &key, sizeof(key), vals.data(), vals.size() * sizeof(ks_stat_val),
                             0) != 0) {
      continue; // removed meanwhile (never, today)
    }
    core::SpanAggregate a;
    for (const ks_stat_val &v : vals) {
      if (a.name.empty() && v.name[0] != 0) {
        a.name.assign(v.name, strnlen(v.name, sizeof(v.name)));
      }
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
      a.name = m.handler.function_name(fn_probe_id(key.span));
    } else if ((key.span & KS_PAIR_TAG) != 0) {
      const uint64_t pair = key.span & ~KS_PAIR_TAG;
      a.name = pair < m.plan.pairs.size() ? m.plan.pairs[pair].literal_name : "<unknown pair>";
    } else if (a.name.empty()) {
      const std::string *name = m.handler.cached_name(key.tgid, key.span);
      a.name = name != nullptr ? *name : "<unknown>";
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
  size_t n = impl_->links.size() + impl_->begin_links.size();
  for (const auto &u : impl_->plan.usdt) {
    n += Impl::use_multi(u) ? 1 : 0; // a probe's sites in one multi-uprobe link
  }
  for (const auto &u : impl_->plan.uprobes) {
    n += 2 * u.sites.size(); // an entry and a return uprobe each
  }
  return n - 2 * impl_->refused_sites.size();
}
std::vector<std::pair<std::string, uint64_t>> Collector::usdt_counts() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> vals(static_cast<size_t>(ncpu > 0 ? ncpu : 1));
  for (uint32_t i = 0; i < impl_->plan.counted.size(); i++) {
    uint64_t sum = 0;
    if (bpf_map__lookup_elem(impl_->skel->maps.usdt_counts, &i, sizeof(i), vals.data(),
                             vals.size() * sizeof(uint64_t), 0) == 0) {
      for (auto v : vals) {
        sum += v;
      }
    }
    out.emplace_back(impl_->plan.counted[i], sum);
  }
  return out;
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
  std::vector<core::BpfProgramStats> out;
  std::vector<const bpf_object *> objs = {impl_->skel->obj};
  for (const ks_kernspan *s : impl_->late) { // loaded for objects found later
    objs.push_back(s->obj);
  }
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

bool Collector::bpf_stats_enabled() const {
  if (impl_->stats_fd >= 0) {
    return true;
  }
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

namespace {
std::atomic<Collector *> g_stop_target{nullptr};
struct sigaction g_old_int {};
struct sigaction g_old_term {};
void on_signal(int) {
  if (auto *c = g_stop_target.load()) {
    c->request_stop();
  }
}
} // namespace

SignalStopper::SignalStopper(Collector &c) {
  g_stop_target = &c;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

SignalStopper::~SignalStopper() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_stop_target = nullptr;
}

} // namespace kernspan::collect
