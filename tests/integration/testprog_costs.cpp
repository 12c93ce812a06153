// SPDX-License-Identifier: Apache-2.0
//
// testprog_costs - spans with known costs, measured by the program itself.
//
// Once a tracer watches every site, it runs these spans in order and writes
// what it measured to the --report file as JSON:
//   burn        ~200 ms of CPU; thread_cpu_ns is CLOCK_THREAD_CPUTIME_ID
//               read just before BEGIN and just after END
//   sleep       nanosleep 100 ms
//   read_file   read a 4 MiB file (written before the span) to EOF
//   tcp_send    write 1 MiB to a loopback TCP peer; the peer thread's span
//   tcp_recv    reads it all
//   contend     two threads pinned to one CPU, each burning 150 ms of CPU;
//               per thread its CPU clock, CLOCK_MONOTONIC and schedstat
//               run_delay deltas
//   parent      ├── child_burn (30 ms CPU)
//               └── child_sleep (20 ms sleep)
//   pingpong    two threads pinned to one CPU hand a byte back and forth
//               over two pipes 20000 times (a context switch per hand-over);
//               per thread its CPU clock delta
//   woken       a thread pinned to CPU 0 blocks in read() of a pipe; a
//               SCHED_FIFO thread on the same CPU writes the pipe and then
//               burns 50 ms, so the reader waits that long runnable; its
//               schedstat run_delay delta is reported as woken_run_delay_ns
//
// With --hog, from before burn to after contend a child process per CPU,
// pinned to it, spins: every span in between competes for its CPU.
//
// With --retrans it runs in a private network namespace (loopback only) and
// marks one span instead:
//   retransmit  write 256 KiB, through an 8 KiB send buffer, to a loopback
//               TCP peer while an nftables rule drops what reaches the
//               peer's port; another thread deletes the rule after 700 ms,
//               so the write stays blocked through the timer's retransmits
//               of its first segments; then wait until all is acked. The
//               socket's tcpi_total_retrans is reported as total_retrans,
//               the write's duration as write_ms, and the peer's reading
//               thread marks `retransmit_peer`
//
// With --top it marks no spans: two worker threads pinned to one CPU block
// in read() until SIGUSR1, then each burns 200 ms of CPU, reads 1 MiB from
// /dev/zero and writes 1 MiB to /dev/null in 64 KiB calls, and blocks again;
// "done" is then printed, and the program waits for SIGTERM. Tests compare
// `kernspan top` with /proc/PID/task/TID/{schedstat,io} around the work.
//
// With --gaps --report FILE one worker thread blocks in read() ("ready TID"
// is printed once it does) until SIGUSR1 and a tracer watching every site,
// then runs kGapRounds rounds of: with no span open, 40-52 getppid() calls, a
// 3 ms nanosleep and a 16 KiB read from /dev/zero; then the span `gap_span`
// with 1-9 getppid() calls, 0-2 nanosleeps of 200 us and a read of 8-480
// bytes from /dev/zero. The report lists, span by span, what the worker did
// in it (syscalls, read_bytes, sleeps) and CLOCK_MONOTONIC around BEGIN..END
// (wall_ns), and its syscalls and read bytes since the wake-up in total.
// "done" is then printed and the program exits; with --hold the worker
// blocks in read() until SIGTERM.
// Exit codes: 0 done, 1 runtime error, 2 bad usage, 3 no tracer.
#include <kernspan/kernspan.h>

#include "tracer_wait.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kFileBytes = 4u << 20;
constexpr size_t kNetBytes = 1u << 20;

uint64_t clock_ns(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t thread_cpu_ns() {
  return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

long tid() {
  return syscall(SYS_gettid);
}

// Burn `ns` of this thread's CPU time.
void burn(uint64_t ns) {
  const uint64_t until = thread_cpu_ns() + ns;
  volatile uint64_t x = 0;
  while (thread_cpu_ns() < until) {
    for (int i = 0; i < 1000; i++) {
      x = x + static_cast<uint64_t>(i);
    }
  }
}

// This thread's run-queue wait so far (schedstat field 2, ns): the
// kernel's own figure for "runnable but not running".
uint64_t run_delay_ns() {
  const std::string path = "/proc/self/task/" + std::to_string(syscall(SYS_gettid)) + "/schedstat";
  FILE *f = std::fopen(path.c_str(), "r");
  unsigned long long on = 0;
  unsigned long long wait = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%llu %llu", &on, &wait) != 2) {
      wait = 0;
    }
    std::fclose(f);
  }
  return wait;
}

void die(const char *what) {
  std::fprintf(stderr, "testprog_costs: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

bool write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    die("sched_setaffinity");
  }
}

// A spinning child process pinned to each CPU this program may use, for as
// long as it lives (each also ends itself after 120 s, should this program
// die first).
class CpuHog {
public:
  CpuHog() {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
      die("sched_getaffinity");
    }
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
      if (!CPU_ISSET(cpu, &allowed)) {
        continue;
      }
      const pid_t pid = fork();
      if (pid < 0) {
        die("fork");
      }
      if (pid == 0) {
        pin_to_cpu(cpu);
        alarm(120);
        volatile uint64_t x = 0;
        for (;;) {
          x = x + 1;
        }
      }
      pids_.push_back(pid);
    }
  }
  ~CpuHog() {
    for (const pid_t pid : pids_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  CpuHog(const CpuHog &) = delete;
  CpuHog &operator=(const CpuHog &) = delete;
  CpuHog(CpuHog &&) = delete;
  CpuHog &operator=(CpuHog &&) = delete;

private:
  std::vector<pid_t> pids_;
};

int top_mode() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr); // inherited by the workers
  int go[2];
  int stop[2];
  if (pipe2(go, O_CLOEXEC) != 0 || pipe2(stop, O_CLOEXEC) != 0) {
    die("pipe");
  }
  std::atomic<int> finished{0};
  std::atomic<long> tids[2] = {0, 0};
  std::vector<std::thread> ts;
  for (size_t i = 0; i < 2; i++) {
    ts.emplace_back([&, i] {
      pin_to_cpu(0);
      tids[i] = tid();
      char c;
      if (read(go[0], &c, 1) != 1) {
        return;
      }
      burn(200'000'000);
      std::vector<char> buf(size_t{64} * 1024);
      const int z = open("/dev/zero", O_RDONLY | O_CLOEXEC);
      const int n = open("/dev/null", O_WRONLY | O_CLOEXEC);
      for (int k = 0; k < 16; k++) {
        if (read(z, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size()) ||
            write(n, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
          die("/dev/zero -> /dev/null");
        }
      }
      close(z);
      close(n);
      finished++;
      [[maybe_unused]] auto r = read(stop[0], &c, 1); // idle until exit
    });
  }
  while (tids[0] == 0 || tids[1] == 0) {
    kernspan_examples::sleep_ms(1);
  }
  std::printf("ready %ld %ld\n", tids[0].load(), tids[1].load());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  if (sig == SIGUSR1) {
    if (write(go[1], "gg", 2) != 2) {
      die("write go");
    }
    while (finished.load() < 2) {
      kernspan_examples::sleep_ms(1);
    }
    std::printf("done\n");
    std::fflush(stdout);
    sigwait(&set, &sig);
  }
  close(stop[1]); // workers' reads return 0
  for (auto &t : ts) {
    t.join();
  }
  return 0;
}

constexpr int kGapRounds = 60;

// One nanosleep (one clock_nanosleep syscall; signals are blocked).
void nap_us(long us) {
  const timespec ts{0, us * 1000};
  if (nanosleep(&ts, nullptr) != 0) {
    die("nanosleep");
  }
}

// Whether thread `t` of this process is in read(): its /proc syscall file
// starts with the number of the syscall in progress.
bool in_read(long t) {
  const std::string path = "/proc/self/task/" + std::to_string(t) + "/syscall";
  FILE *f = std::fopen(path.c_str(), "r");
  long nr = -1;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld", &nr) != 1) {
      nr = -1;
    }
    std::fclose(f);
  }
  return nr == SYS_read;
}

int gaps_mode(const std::string &report, bool hold) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr); // inherited by the worker
  int go[2];
  int stop[2];
  if (pipe2(go, O_CLOEXEC) != 0 || pipe2(stop, O_CLOEXEC) != 0) {
    die("pipe");
  }
  const int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  if (zero < 0) {
    die("/dev/zero");
  }
  struct Did {
    uint64_t syscalls = 0;
    uint64_t read_bytes = 0;
    int sleeps = 0;
    uint64_t wall_ns = 0;
  };
  // Everything the worker touches is allocated before it blocks: an
  // allocation could make a syscall (brk, mmap) it does not count.
  std::vector<Did> did(kGapRounds);
  std::vector<char> buf(size_t{16} * 1024);
  uint64_t total_syscalls = 0;
  uint64_t total_read = 0;
  std::atomic<long> wtid{0};
  std::atomic<bool> finished{false};
  std::thread worker([&] {
    wtid = tid();
    char c;
    if (read(go[0], &c, 1) != 1) {
      return;
    }
    for (int i = 0; i < kGapRounds; i++) {
      const int outside = 40 + (i * 7) % 13;
      for (int k = 0; k < outside; k++) {
        getppid();
      }
      nap_us(3000);
      if (read(zero, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
        die("read /dev/zero");
      }
      total_syscalls += static_cast<uint64_t>(outside) + 2;
      total_read += buf.size();
      const int calls = 1 + (i * 5) % 9;
      const int sleeps = i % 3;
      const size_t n = size_t{8} * static_cast<size_t>(i % 60 + 1);
      const uint64_t t0 = clock_ns(CLOCK_MONOTONIC); // vDSO: no syscall
      KERNSPAN_BEGIN("gap_span");
      for (int k = 0; k < calls; k++) {
        getppid();
      }
      for (int k = 0; k < sleeps; k++) {
        nap_us(200);
      }
      const ssize_t got = read(zero, buf.data(), n);
      KERNSPAN_END("gap_span");
      const uint64_t t1 = clock_ns(CLOCK_MONOTONIC);
      if (got != static_cast<ssize_t>(n)) {
        die("read /dev/zero");
      }
      did[static_cast<size_t>(i)] = {static_cast<uint64_t>(calls + sleeps) + 1, n, sleeps, t1 - t0};
      total_syscalls += static_cast<uint64_t>(calls + sleeps) + 1;
      total_read += n;
    }
    finished = true;
    [[maybe_unused]] auto r = read(stop[0], &c, 1); // idle until exit
  });
  while (wtid.load() == 0 || !in_read(wtid.load())) {
    kernspan_examples::sleep_ms(1);
  }
  std::printf("ready %ld\n", wtid.load());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  if (sig == SIGUSR1) {
    KERNSPAN_EXAMPLES_REQUIRE_SPAN_TRACER("testprog_costs");
    if (write(go[1], "g", 1) != 1) {
      die("write go");
    }
    while (!finished.load()) {
      kernspan_examples::sleep_ms(1);
    }
    std::string json = "{\"tid\":" + std::to_string(wtid.load()) +
                       ",\"syscalls\":" + std::to_string(total_syscalls) +
                       ",\"read_bytes\":" + std::to_string(total_read) + ",\"spans\":[";
    for (size_t i = 0; i < did.size(); i++) {
      json += (i ? ",{" : "{") + std::string("\"syscalls\":") + std::to_string(did[i].syscalls) +
              ",\"read_bytes\":" + std::to_string(did[i].read_bytes) +
              ",\"sleeps\":" + std::to_string(did[i].sleeps) +
              ",\"wall_ns\":" + std::to_string(did[i].wall_ns) + "}";
    }
    json += "]}\n";
    FILE *f = std::fopen(report.c_str(), "w");
    if (f == nullptr || std::fputs(json.c_str(), f) < 0 || std::fclose(f) != 0) {
      die("write report");
    }
    std::printf("done\n");
    std::fflush(stdout);
    if (hold) {
      sigwait(&set, &sig);
    }
  }
  close(stop[1]); // the worker's read returns 0
  worker.join();
  close(zero);
  return 0;
}

// Blocked in read() while a SCHED_FIFO thread on its CPU wakes it and keeps
// the CPU for 50 ms: the reader's span holds a sleep and then a run-queue
// wait. Returns the reader's schedstat run_delay delta over its span.
uint64_t woken_span() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    die("pipe");
  }
  std::atomic<bool> reading{false};
  uint64_t waited = 0;
  std::thread reader([&] {
    pin_to_cpu(0);
    const uint64_t w0 = run_delay_ns();
    KERNSPAN_BEGIN("woken");
    reading = true;
    char c;
    if (read(p[0], &c, 1) != 1) {
      die("read pipe");
    }
    KERNSPAN_END("woken");
    waited = run_delay_ns() - w0;
  });
  std::thread waker([&] {
    pin_to_cpu(0);
    while (!reading) {
      kernspan_examples::sleep_ms(1);
    }
    kernspan_examples::sleep_ms(20); // the reader is blocked by now
    const sched_param fifo{1};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo) != 0) {
      std::fprintf(stderr, "testprog_costs: SCHED_FIFO refused\n");
      std::exit(1);
    }
    if (write(p[1], "w", 1) != 1) {
      die("write pipe");
    }
    burn(50'000'000);
  });
  waker.join();
  reader.join();
  close(p[0]);
  close(p[1]);
  return waited;
}

// Runs body(0) and body(1) on two threads pinned to CPU 0, released
// together once both are there. Returns their tids, by index.
std::vector<long> on_cpu0_pair(const std::function<void(size_t)> &body) {
  std::atomic<int> ready{0};
  std::vector<long> tids(2);
  std::vector<std::thread> ts;
  for (size_t i = 0; i < 2; i++) {
    ts.emplace_back([&, i] {
      pin_to_cpu(0);
      tids[i] = tid();
      ready++;
      while (ready.load() < 2) {
        sched_yield();
      }
      body(i);
    });
  }
  for (auto &t : ts) {
    t.join();
  }
  return tids;
}

// Two threads on CPU 0 hand a byte back and forth kPingPongs times over two
// pipes, each inside its own "pingpong" span: every hand-over is a switch
// between two target threads. Appends each thread's CPU clock delta over
// its span to `json` as "pingpong_TID":{"thread_cpu_ns":N}.
constexpr int kPingPongs = 20000;

void pingpong_spans(std::string &json) {
  int ab[2];
  int ba[2];
  if (pipe2(ab, O_CLOEXEC) != 0 || pipe2(ba, O_CLOEXEC) != 0) {
    die("pipe");
  }
  std::vector<uint64_t> cpu(2);
  const std::vector<long> tids = on_cpu0_pair([&](size_t i) {
    const int in = i == 0 ? ba[0] : ab[0];
    const int out = i == 0 ? ab[1] : ba[1];
    char c = 'p';
    const uint64_t c0 = thread_cpu_ns();
    KERNSPAN_BEGIN("pingpong");
    for (int n = 0; n < kPingPongs; n++) {
      if (i == 0 && write(out, &c, 1) != 1) {
        die("write pipe");
      }
      if (read(in, &c, 1) != 1) {
        die("read pipe");
      }
      if (i == 1 && write(out, &c, 1) != 1) {
        die("write pipe");
      }
    }
    KERNSPAN_END("pingpong");
    cpu[i] = thread_cpu_ns() - c0;
  });
  for (int fd : {ab[0], ab[1], ba[0], ba[1]}) {
    close(fd);
  }
  for (size_t i = 0; i < 2; i++) {
    json += ",\"pingpong_" + std::to_string(tids[i]) +
            "\":{\"thread_cpu_ns\":" + std::to_string(cpu[i]) + "}";
  }
}

// A connected loopback TCP pair: the listener, the client end and the
// server end, and the listener's port.
struct TcpPair {
  int lfd = -1;
  int cfd = -1;
  int sfd = -1;
  uint16_t port = 0;
};

TcpPair loopback_pair() {
  TcpPair p;
  p.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(addr);
  if (p.lfd < 0 || bind(p.lfd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 ||
      listen(p.lfd, 1) != 0 ||
      getsockname(p.lfd, reinterpret_cast<sockaddr *>(&addr), &alen) != 0) {
    die("listen");
  }
  p.cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p.cfd < 0 || connect(p.cfd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
    die("connect");
  }
  p.sfd = accept4(p.lfd, nullptr, nullptr, SOCK_CLOEXEC);
  if (p.sfd < 0) {
    die("accept");
  }
  p.port = ntohs(addr.sin_port);
  return p;
}

int sh(const std::string &cmd) {
  const int rc = std::system(cmd.c_str()); // NOLINT(cert-env33-c): fixed test commands
  if (rc != 0) {
    std::fprintf(stderr, "testprog_costs: '%s' failed (%d)\n", cmd.c_str(), rc);
    std::exit(1);
  }
  return rc;
}

tcp_info tcp_info_of(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof(ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
    die("TCP_INFO");
  }
  return ti;
}

int retrans_mode(const std::string &report) {
  // A network namespace of our own, with only loopback, up.
  if (unshare(CLONE_NEWNET) != 0) {
    die("unshare(CLONE_NEWNET)");
  }
  {
    const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    if (s < 0 || ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
      die("bring lo up");
    }
    close(s);
  }
  const TcpPair tcp = loopback_pair();
  const int lfd = tcp.lfd;
  const int cfd = tcp.cfd;
  const int sfd = tcp.sfd;
  const std::string port = std::to_string(tcp.port);
  const int sndbuf = 4096; // the kernel doubles it
  if (setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) != 0) {
    die("SO_SNDBUF");
  }
  KERNSPAN_EXAMPLES_REQUIRE_SPAN_TRACER("testprog_costs");
  constexpr size_t kBytes = size_t{256} * 1024;
  std::atomic<size_t> received{0};
  std::thread peer([&] {
    std::vector<char> buf(kBytes);
    size_t got = 0;
    KERNSPAN_BEGIN("retransmit_peer");
    while (got < kBytes) {
      const ssize_t n = read(sfd, buf.data(), buf.size());
      if (n <= 0) {
        break;
      }
      got += static_cast<size_t>(n);
    }
    KERNSPAN_END("retransmit_peer");
    received = got;
  });
  // What reaches the peer's port is dropped on input: the sender's
  // transmissions succeed, and only the retransmit timer brings data over.
  sh("nft add table inet ks_retrans");
  sh("nft add chain inet ks_retrans in '{ type filter hook input priority 0; }'");
  sh("nft add rule inet ks_retrans in tcp dport " + port + " drop");
  const std::vector<char> data(kBytes, 'r');
  std::thread unblock([] {
    kernspan_examples::sleep_ms(700);
    sh("nft delete table inet ks_retrans");
  });
  KERNSPAN_BEGIN("retransmit");
  const uint64_t w0 = clock_ns(CLOCK_MONOTONIC);
  const bool ok = write_all(cfd, data.data(), data.size());
  const uint64_t write_ms = (clock_ns(CLOCK_MONOTONIC) - w0) / 1000000;
  unblock.join();
  for (int i = 0; i < 500 && tcp_info_of(cfd).tcpi_unacked != 0; i++) {
    kernspan_examples::sleep_ms(10);
  }
  const tcp_info ti = tcp_info_of(cfd);
  KERNSPAN_END("retransmit");
  peer.join();
  if (!ok || ti.tcpi_unacked != 0) {
    std::fprintf(stderr, "testprog_costs: data not acked\n");
    return 1;
  }
  close(cfd);
  close(sfd);
  close(lfd);
  const std::string json = "{\"pid\":" + std::to_string(getpid()) +
                           ",\"total_retrans\":" + std::to_string(ti.tcpi_total_retrans) +
                           ",\"write_ms\":" + std::to_string(write_ms) +
                           ",\"received\":" + std::to_string(received.load()) + "}\n";
  FILE *f = std::fopen(report.c_str(), "w");
  if (f == nullptr || std::fputs(json.c_str(), f) < 0 || std::fclose(f) != 0) {
    die("write report");
  }
  kernspan_examples::sleep_ms(50); // let the tracer sweep the last records
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 2 && std::string(argv[1]) == "--top") {
    return top_mode();
  }
  std::string report;
  std::string dir = "/tmp";
  bool retrans = false;
  bool hog = false;
  bool gaps = false;
  bool hold = false;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--retrans") {
      retrans = true;
    } else if (a == "--hog") {
      hog = true;
    } else if (a == "--gaps") {
      gaps = true;
    } else if (a == "--hold") {
      hold = true;
    } else if (a == "--report" && i + 1 < argc) {
      report = argv[++i];
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: testprog_costs --report FILE [--dir DIR] [--retrans | --hog | "
                           "--gaps [--hold]]\n");
      return 2;
    }
  }
  if (report.empty()) {
    std::fprintf(
        stderr,
        "usage: testprog_costs --report FILE [--dir DIR] [--retrans | --hog | --gaps [--hold]]\n");
    return 2;
  }
  if (retrans) {
    return retrans_mode(report);
  }
  if (gaps) {
    return gaps_mode(report, hold);
  }

  // Set-up outside any span: the file to read and the TCP pair.
  const std::string path = dir + "/testprog_costs." + std::to_string(getpid()) + ".dat";
  {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      die("create data file");
    }
    const std::vector<char> block(kFileBytes, 'k');
    if (!write_all(fd, block.data(), block.size())) {
      die("write data file");
    }
    close(fd);
  }
  const TcpPair tcp = loopback_pair();
  const int lfd = tcp.lfd;
  const int cfd = tcp.cfd;
  const int sfd = tcp.sfd;

  KERNSPAN_EXAMPLES_REQUIRE_SPAN_TRACER("testprog_costs");

  std::string json =
      "{\"pid\":" + std::to_string(getpid()) + ",\"main_tid\":" + std::to_string(tid());
  std::unique_ptr<CpuHog> load;
  if (hog) {
    load = std::make_unique<CpuHog>();
  }

  // burn
  {
    const uint64_t c0 = thread_cpu_ns();
    KERNSPAN_BEGIN("burn");
    burn(200'000'000);
    KERNSPAN_END("burn");
    const uint64_t c1 = thread_cpu_ns();
    json += ",\"burn_thread_cpu_ns\":" + std::to_string(c1 - c0);
  }
  // sleep
  {
    KERNSPAN_BEGIN("sleep");
    timespec ts{0, 100'000'000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    KERNSPAN_END("sleep");
  }
  // 50 spans of exactly 20 syscalls each. Sites hit often are optimized by
  // the kernel into calls to a trampoline that enters the uprobe syscall:
  // those must not count.
  for (int n = 0; n < 50; n++) {
    KERNSPAN_BEGIN("syscalls");
    for (int i = 0; i < 20; i++) {
      syscall(SYS_getppid);
    }
    KERNSPAN_END("syscalls");
  }
  // 10 signals sent to itself and handled: exactly 20 syscalls, each tgkill
  // and the rt_sigreturn that ends its handler (which leaves the kernel the
  // way the uprobe trampolines do, with no syscall number).
  {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, nullptr);
    const long pid = getpid();
    const long me = tid();
    KERNSPAN_BEGIN("signals");
    for (int i = 0; i < 10; i++) {
      syscall(SYS_tgkill, pid, me, SIGUSR2);
    }
    KERNSPAN_END("signals");
  }
  // read_file
  {
    std::vector<char> buf(size_t{64} * 1024);
    size_t total = 0;
    KERNSPAN_BEGIN("read_file");
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t n;
      while ((n = read(fd, buf.data(), buf.size())) > 0) {
        total += static_cast<size_t>(n);
      }
      close(fd);
    }
    KERNSPAN_END("read_file");
    unlink(path.c_str());
    json += ",\"read_file_bytes\":" + std::to_string(total);
  }
  // tcp_send / tcp_recv
  {
    std::atomic<long> peer_tid{0};
    std::atomic<size_t> received{0};
    std::atomic<bool> peer_in_span{false};
    std::thread peer([&] {
      peer_tid = tid();
      std::vector<char> buf(size_t{64} * 1024);
      size_t got = 0;
      KERNSPAN_BEGIN("tcp_recv");
      peer_in_span = true;
      while (got < kNetBytes) {
        const ssize_t n = read(sfd, buf.data(), buf.size());
        if (n <= 0) {
          break;
        }
        got += static_cast<size_t>(n);
      }
      KERNSPAN_END("tcp_recv");
      received = got;
    });
    while (!peer_in_span) {
      kernspan_examples::sleep_ms(1);
    }
    const std::vector<char> data(kNetBytes, 'n');
    KERNSPAN_BEGIN("tcp_send");
    const bool ok = write_all(cfd, data.data(), data.size());
    KERNSPAN_END("tcp_send");
    peer.join();
    if (!ok) {
      die("tcp write");
    }
    json += ",\"tcp_sent\":" + std::to_string(kNetBytes) +
            ",\"tcp_received\":" + std::to_string(received.load()) +
            ",\"peer_tid\":" + std::to_string(peer_tid.load());
  }
  // contend: two threads on one CPU
  {
    std::vector<uint64_t> cpu(2);
    std::vector<uint64_t> wall(2);
    std::vector<uint64_t> waited(2);
    const std::vector<long> tids = on_cpu0_pair([&](size_t i) {
      const uint64_t w0 = run_delay_ns();
      const uint64_t m0 = clock_ns(CLOCK_MONOTONIC);
      const uint64_t c0 = thread_cpu_ns();
      KERNSPAN_BEGIN("contend");
      burn(150'000'000);
      KERNSPAN_END("contend");
      cpu[i] = thread_cpu_ns() - c0;
      wall[i] = clock_ns(CLOCK_MONOTONIC) - m0;
      waited[i] = run_delay_ns() - w0;
    });
    for (size_t i = 0; i < 2; i++) {
      json += ",\"contend_" + std::to_string(tids[i]) +
              "\":{\"thread_cpu_ns\":" + std::to_string(cpu[i]) +
              ",\"wall_ns\":" + std::to_string(wall[i]) +
              ",\"run_delay_ns\":" + std::to_string(waited[i]) + "}";
    }
  }
  load.reset();
  // parent with children
  {
    KERNSPAN_BEGIN("parent");
    KERNSPAN_BEGIN("child_burn");
    burn(30'000'000);
    KERNSPAN_END("child_burn");
    KERNSPAN_BEGIN("child_sleep");
    kernspan_examples::sleep_ms(20);
    KERNSPAN_END("child_sleep");
    KERNSPAN_END("parent");
  }
  pingpong_spans(json);
  json += ",\"woken_run_delay_ns\":" + std::to_string(woken_span());
  json += "}\n";
  close(cfd);
  close(sfd);
  close(lfd);
  FILE *f = std::fopen(report.c_str(), "w");
  if (f == nullptr || std::fputs(json.c_str(), f) < 0 || std::fclose(f) != 0) {
    die("write report");
  }
  kernspan_examples::sleep_ms(50); // let the tracer sweep the last records
  return 0;
}
