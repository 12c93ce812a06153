// SPDX-License-Identifier: Apache-2.0
#include "collect/site_guard.hpp"

#include "collect/collector.hpp"
#include "collect/uprobe_multi.hpp"
#include "probe/proc_maps.hpp"
#include "probe/x86_nop.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// The behaviour test's probe site: a five-byte NOP (kernspan.h's encoding)
// in kernspan's own text, aligned so that it does not cross a page.
#if defined(__x86_64__)
extern "C" void kernspan_nop5_test_site();
__asm__(".pushsection .text.kernspan_nop5_test_site,\"ax\",@progbits\n"
        ".globl kernspan_nop5_test_site\n"
        ".hidden kernspan_nop5_test_site\n"
        ".type kernspan_nop5_test_site,@function\n"
        ".balign 16\n"
        "kernspan_nop5_test_site:\n"
        ".byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"
        "ret\n"
        ".size kernspan_nop5_test_site, .-kernspan_nop5_test_site\n"
        ".popsection\n");
#endif

namespace kernspan::collect {
namespace {

// A call reaches +-2 GiB; a window a little wider on each side of the
// mapped object leaves the kernel no page for a trampoline.
constexpr uint64_t kWindow = (uint64_t{1} << 31) + (uint64_t{1} << 16);
constexpr int kTimeoutMs = 3000;

// Reads one byte within the timeout; -1 on timeout, EOF or error.
int read_byte(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) {
    return -1;
  }
  char c = 0;
  return read(fd, &c, 1) == 1 ? static_cast<unsigned char>(c) : -1;
}

// A child that must not outlive the attempt: killed and reaped on scope
// exit unless reaped before.
class Child {
public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      reap();
    }
  }
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;
  int reap() {
    int st = 0;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return st;
  }
  [[nodiscard]] pid_t pid() const { return pid_; }

private:
  pid_t pid_;
};

struct Pipe {
  std::array<int, 2> fd{-1, -1};
  Pipe() {
    if (pipe2(fd.data(), O_CLOEXEC) != 0) {
      throw CollectError(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
  }
  ~Pipe() {
    for (int f : fd) {
      if (f >= 0) {
        close(f);
      }
    }
  }
  Pipe(const Pipe &) = delete;
  Pipe &operator=(const Pipe &) = delete;
  void close_end(int i) {
    close(fd[static_cast<size_t>(i)]);
    fd[static_cast<size_t>(i)] = -1;
  }
};

// --- The throw-away processes (forked from a process that has threads:
// from fork to exit they make raw system calls only, no allocation). ---

[[noreturn]] void crashed_handler(int) {
  _exit(3);
}

#if defined(__x86_64__)
// The behaviour test: hit the site twice (the first hit is where the kernel
// optimizes), see whether the site became a call, and if so whether a
// child forked now survives running it. Writes 'e', 's' or 'c' to `out`.
[[noreturn]] void test_child(int go, int out) {
  char c = 0;
  if (read(go, &c, 1) != 1) {
    _exit(1);
  }
  kernspan_nop5_test_site();
  kernspan_nop5_test_site();
  const auto *site = reinterpret_cast<const volatile uint8_t *>(&kernspan_nop5_test_site);
  char verdict = 'e';
  if (*site == 0xe8) { // a call
    const pid_t g = fork();
    if (g == 0) {
      const rlimit no_core{0, 0};
      setrlimit(RLIMIT_CORE, &no_core);
      struct sigaction sa {};
      sa.sa_handler = crashed_handler;
      sigaction(SIGSEGV, &sa, nullptr);
      sigaction(SIGBUS, &sa, nullptr);
      sigaction(SIGILL, &sa, nullptr);
      kernspan_nop5_test_site();
      _exit(0);
    }
    int st = 0;
    while (g > 0 && waitpid(g, &st, 0) < 0 && errno == EINTR) {
    }
    verdict = g > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 's' : 'c';
  }
  (void)!write(out, &verdict, 1);
  _exit(0);
}

// The guard: after the hit on each site, the guard's BPF program sends this
// thread SIGUSR1, which arrives before the instruction after the site runs;
// the handler jumps back to the loop. SA_NODEFER keeps SIGUSR1 unblocked
// across the jump.
void *g_landing[5];

__attribute__((no_sanitize("address", "undefined"))) void hit_handler(int) {
  __builtin_longjmp(g_landing, 1);
}

// Only these system calls: whatever of the object's code might run by
// mistake (were the signal not to come) can do nothing outside.
sock_filter stmt(uint32_t code, uint32_t k) {
  return sock_filter{static_cast<uint16_t>(code), 0, 0, k};
}
// Go on to the next instruction if the value is `k`, else skip it.
sock_filter next_if_eq(uint32_t k) {
  return sock_filter{static_cast<uint16_t>(BPF_JMP | BPF_JEQ | BPF_K), 0, 1, k};
}

void confine() {
  constexpr auto kAllow = static_cast<uint32_t>(SECCOMP_RET_ALLOW);
  constexpr auto kKill = static_cast<uint32_t>(SECCOMP_RET_KILL_PROCESS);
  const uint32_t ret = BPF_RET | BPF_K;
  std::array<sock_filter, 17> f{{
      stmt(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, arch))),
      {static_cast<uint16_t>(BPF_JMP | BPF_JEQ | BPF_K), 1, 0, AUDIT_ARCH_X86_64},
      stmt(ret, kKill),
      stmt(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, nr))),
      next_if_eq(SYS_read),
      stmt(ret, kAllow),
      next_if_eq(SYS_write),
      stmt(ret, kAllow),
      next_if_eq(SYS_exit_group),
      stmt(ret, kAllow),
      next_if_eq(SYS_exit),
      stmt(ret, kAllow),
      next_if_eq(SYS_rt_sigreturn),
      stmt(ret, kAllow),
      next_if_eq(SYS_rt_sigprocmask),
      stmt(ret, kAllow),
      stmt(ret, kKill),
  }};
  sock_fprog prog{static_cast<uint16_t>(f.size()), f.data()};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    _exit(5);
  }
}

// Maps the object in the middle of a reservation with no free page within
// reach of a call, says 'r', waits for the go, hits each site ('k' for
// each), then waits for the parent to close `go`.
[[noreturn]] __attribute__((no_sanitize("address", "undefined"))) void
guard_child(int obj_fd, uint64_t size, const ProbeSite *sites, size_t n, int go, int out) {
  const uint64_t span = (size + 0xfff) & ~uint64_t{0xfff};
  void *reserve = mmap(nullptr, span + 2 * kWindow, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserve == MAP_FAILED) {
    _exit(6);
  }
  auto *base = static_cast<char *>(reserve) + kWindow;
  if (mmap(base, span, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, obj_fd, 0) != base) {
    _exit(7);
  }
  struct sigaction sa {};
  sa.sa_handler = hit_handler;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGUSR1, &sa, nullptr);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_UNBLOCK, &usr1, nullptr);
  const char ready = 'r';
  char c = 0;
  if (write(out, &ready, 1) != 1 || read(go, &c, 1) != 1) {
    _exit(1);
  }
  confine();
  for (size_t i = 0; i < n; i++) {
    if (__builtin_setjmp(g_landing) == 0) {
      reinterpret_cast<void (*)()>(base + sites[i].offset)();
      _exit(8); // the site ran without the probe: never continue past it
    }
    const char ok = 'k';
    if (write(out, &ok, 1) != 1) {
      _exit(1);
    }
  }
  while (read(go, &c, 1) > 0) {
  }
  _exit(0);
}
#endif

// Forks a throw-away process that runs body(go, out), which never returns,
// with the read end of `go` and the write end of `res`; the parent keeps
// the other two ends.
template <typename Body> pid_t fork_helper(Pipe &go, Pipe &res, Body body) {
  const pid_t pid = fork();
  if (pid == 0) {
    close(go.fd[1]);
    close(res.fd[0]);
    body(go.fd[0], res.fd[1]);
  }
  if (pid < 0) {
    throw CollectError(std::string("fork: ") + std::strerror(errno));
  }
  go.close_end(0);
  res.close_end(1);
  return pid;
}

bool has_trampoline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("[uprobes-trampoline]") != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace

const char *to_string(NopSiteBehaviour b) {
  switch (b) {
  case NopSiteBehaviour::kEmulated:
    return "emulated";
  case NopSiteBehaviour::kOptimizedSafe:
    return "optimized, safe across fork";
  case NopSiteBehaviour::kOptimizedCrashes:
    return "optimized, crashes children forked after a hit";
  case NopSiteBehaviour::kUnknown:
    break;
  }
  return "unknown (untested)";
}

SiteGuard::~SiteGuard() {
  for (int fd : links_) {
    close(fd);
  }
  for (int fd : {noop_prog_, signal_prog_}) {
    if (fd >= 0) {
      close(fd);
    }
  }
}

void SiteGuard::handed_off() {
  for (int fd : links_) {
    close(fd);
  }
  links_.clear();
}

int SiteGuard::program(bool send_signal) {
  int &fd = send_signal ? signal_prog_ : noop_prog_;
  if (fd < 0) {
    fd = load_uprobe_multi_program(send_signal ? "ks_site_guard" : "ks_site_test", send_signal);
    if (fd < 0) {
      throw CollectError(std::string("cannot load the probe-site guard program: ") +
                         std::strerror(-fd));
    }
  }
  return fd;
}

NopSiteBehaviour SiteGuard::behaviour() {
  if (tested_) {
    return behaviour_;
  }
  tested_ = true;
#if defined(__x86_64__)
  try {
    const auto site = reinterpret_cast<uintptr_t>(&kernspan_nop5_test_site);
    std::string path;
    uint64_t offset = 0;
    for (const auto &m : probe::read_maps(getpid())) {
      if (m.start <= site && site < m.end && !m.path.empty()) {
        path = m.path;
        offset = site - m.start + m.offset;
      }
    }
    if (path.empty()) {
      throw CollectError("kernspan's own text is not file-backed");
    }
    Pipe go;
    Pipe res;
    const pid_t pid = fork_helper(go, res, test_child);
    Child t(pid);
    const std::array<uint64_t, 1> offsets{offset};
    const std::array<uint64_t, 1> cookies{0};
    const int link = uprobe_multi_link(program(false), path, offsets, cookies, false, pid);
    if (link < 0) {
      throw CollectError(std::string("uprobe: ") + std::strerror(-link));
    }
    links_.push_back(link);
    const char g = 'g';
    if (write(go.fd[1], &g, 1) != 1) {
      throw CollectError("the test process is gone");
    }
    switch (read_byte(res.fd[0], kTimeoutMs)) {
    case 'e':
      behaviour_ = NopSiteBehaviour::kEmulated;
      break;
    case 's':
      behaviour_ = NopSiteBehaviour::kOptimizedSafe;
      break;
    case 'c':
      behaviour_ = NopSiteBehaviour::kOptimizedCrashes;
      break;
    default:
      throw CollectError("no answer from the test process");
    }
    t.reap();
  } catch (const std::exception &e) {
    spdlog::debug("could not test five-byte NOP probe sites ({}): guarding them", e.what());
    behaviour_ = NopSiteBehaviour::kUnknown;
  }
#else
  behaviour_ = NopSiteBehaviour::kEmulated; // only x86-64 optimizes uprobes
#endif
  spdlog::debug("five-byte NOP probe sites on this kernel: {}", to_string(behaviour_));
  return behaviour_;
}

void SiteGuard::protect(const std::string &object, std::span<const ProbeSite> offsets) {
  if (offsets.empty()) {
    return;
  }
  const int fd = open(object.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return; // attaching fails on the same path, with its own message
  }
  struct stat st {};
  std::vector<ProbeSite> sites;
  if (fstat(fd, &st) == 0) {
    for (const ProbeSite &site : offsets) {
      const uint64_t off = site.offset;
      std::array<uint8_t, 16> code{};
      const ssize_t n = pread(fd, code.data(), code.size(), static_cast<off_t>(off));
      if (n > 0 &&
          probe::is_optimizable_nop5(
              std::span<const uint8_t>(code.data(), static_cast<size_t>(n))) &&
          !guarded_.contains({st.st_dev, st.st_ino, off})) {
        sites.push_back(site);
      }
    }
  }
  try {
    if (!sites.empty()) {
      const NopSiteBehaviour b = behaviour();
      if (b == NopSiteBehaviour::kOptimizedCrashes || b == NopSiteBehaviour::kUnknown) {
        guard(object, fd, sites);
        for (const ProbeSite &site : sites) {
          guarded_.insert({st.st_dev, st.st_ino, site.offset});
        }
      }
    }
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
}

void SiteGuard::guard(const std::string &object, int fd, const std::vector<ProbeSite> &sites) {
#if defined(__x86_64__)
  const auto fail = [&](const std::string &why) {
    return CollectError("cannot keep this kernel from optimizing the " +
                        std::to_string(sites.size()) + " probe sites in " + object +
                        " (its optimized uprobes crash children forked after a hit), so kernspan "
                        "does not attach there: " +
                        why);
  };
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    throw fail(std::strerror(errno));
  }
  const int prog = program(true);
  Pipe go;
  Pipe res;
  pid_t pid = -1;
  try {
    pid = fork_helper(go, res, [&](int in, int out) {
      guard_child(fd, static_cast<uint64_t>(st.st_size), sites.data(), sites.size(), in, out);
    });
  } catch (const CollectError &e) {
    throw fail(e.what());
  }
  Child c(pid);
  if (read_byte(res.fd[0], kTimeoutMs) != 'r') {
    throw fail("the helper process could not map the object");
  }
  std::vector<uint64_t> offsets;
  std::vector<uint64_t> ref_ctrs;
  for (const ProbeSite &s : sites) {
    offsets.push_back(s.offset);
    ref_ctrs.push_back(s.ref_ctr);
  }
  const bool any_ref_ctr =
      std::any_of(ref_ctrs.begin(), ref_ctrs.end(), [](uint64_t r) { return r != 0; });
  const std::vector<uint64_t> cookies(sites.size(), 0);
  const int link = uprobe_multi_link(prog, object, offsets, cookies, false, pid,
                                     any_ref_ctr ? std::span<const uint64_t>(ref_ctrs)
                                                 : std::span<const uint64_t>());
  if (link < 0) {
    throw fail(std::string("uprobe: ") + std::strerror(-link));
  }
  links_.push_back(link); // kept, also on failure: closing is slow, the hand-off is not
  const char g = 'g';
  if (write(go.fd[1], &g, 1) != 1) {
    throw fail("the helper process is gone");
  }
  for (size_t i = 0; i < sites.size(); i++) {
    if (read_byte(res.fd[0], kTimeoutMs) != 'k') {
      throw fail("the helper process stopped after " + std::to_string(i) + " sites");
    }
  }
  if (has_trampoline(pid)) {
    throw fail("the kernel found room for a trampoline");
  }
  go.close_end(1);
  const int status = c.reap();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw fail("the helper process did not exit cleanly");
  }
  spdlog::debug("{} five-byte NOP probe sites in {} kept unoptimized", sites.size(), object);
#else
  (void)object;
  (void)fd;
  (void)sites;
#endif
}

} // namespace kernspan::collect
