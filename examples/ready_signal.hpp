// SPDX-License-Identifier: Apache-2.0
//
// ready_signal.hpp - the "ready, then wait for SIGUSR1" handshake.
//
// Test and benchmark programs that a tracer attaches to before they work
// print "ready" on stdout, then wait for SIGUSR1 (the harness's trace_ready
// and the bench scripts send it once kernspan says "attached"). SIGUSR1 is
// blocked first so that one sent early is kept pending, never fatal.
// Used by tests/integration/ and bench/ (header-only).
#ifndef KERNSPAN_EXAMPLES_READY_SIGNAL_HPP
#define KERNSPAN_EXAMPLES_READY_SIGNAL_HPP

#include <csignal>
#include <cstdio>

namespace kernspan_examples {

// Blocks SIGUSR1, prints "ready" and flushes; returns the set to wait on.
inline sigset_t say_ready() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  std::printf("ready\n");
  std::fflush(stdout);
  return set;
}

// Waits for a signal of `set` (from say_ready) to arrive.
inline void wait_for_go(const sigset_t &set) {
  int sig = 0;
  sigwait(&set, &sig);
}

} // namespace kernspan_examples

#endif // KERNSPAN_EXAMPLES_READY_SIGNAL_HPP
