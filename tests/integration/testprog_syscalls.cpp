// SPDX-License-Identifier: Apache-2.0
// Makes a known number of syscalls, for kernspan syscalls and syscount to
// count: prints "ready", waits for SIGUSR1, then calls getppid exactly N
// times and fails openat (ENOENT) exactly M times, and exits.
//   testprog_syscalls N M
#include "ready_signal.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: testprog_syscalls N M\n");
    return 2;
  }
  const long n = std::atol(argv[1]);
  const long m = std::atol(argv[2]);
  const sigset_t set = kernspan_examples::say_ready();
  kernspan_examples::wait_for_go(set);
  for (long i = 0; i < n; i++) {
    syscall(SYS_getppid); // the syscall itself, whatever libc caches
  }
  for (long i = 0; i < m; i++) {
    if (syscall(SYS_openat, AT_FDCWD, "/nonexistent/kernspan-test", O_RDONLY) != -1 ||
        errno != ENOENT) {
      return 1;
    }
  }
  return 0;
}
