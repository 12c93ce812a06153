// SPDX-License-Identifier: Apache-2.0
//
// costs_load - the workloads of bench/run_costs.sh.
//
//   costs_load pingpong N   two threads pinned to CPU 0 pass a byte back and
//                           forth over two pipes N times: 2N context switches
//   costs_load getppid N    N getppid() syscalls in a tight loop
//
// It waits for SIGUSR1 (the driver sends it once the tracer is attached),
// runs, and prints "<ns per event>" (per context switch, or per syscall).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

void pin0() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

double pingpong(long n) {
  int ab[2];
  int ba[2];
  if (pipe(ab) != 0 || pipe(ba) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  std::thread peer([&] {
    pin0();
    char c;
    for (long i = 0; i < n; i++) {
      if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1) {
        std::exit(1);
      }
    }
  });
  pin0();
  char c = 'x';
  const uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) {
      std::exit(1);
    }
  }
  const uint64_t t1 = now_ns();
  peer.join();
  return static_cast<double>(t1 - t0) / (2.0 * static_cast<double>(n));
}

double getppid_loop(long n) {
  const uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    syscall(SYS_getppid); // not cached by libc
  }
  return static_cast<double>(now_ns() - t0) / static_cast<double>(n);
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3 ||
      (std::strcmp(argv[1], "pingpong") != 0 && std::strcmp(argv[1], "getppid") != 0)) {
    std::fprintf(stderr, "usage: costs_load pingpong|getppid N\n");
    return 2;
  }
  const long n = std::atol(argv[2]);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  const double ns = std::strcmp(argv[1], "pingpong") == 0 ? pingpong(n) : getppid_loop(n);
  std::printf("%.1f\n", ns);
  return 0;
}
