// SPDX-License-Identifier: Apache-2.0
// kernspan's probes written with <sys/sdt.h> instead of our header: the
// compiler places the arguments (memory, other registers), so kernspan must
// use its generic USDT programs. Prints "ready", waits for SIGUSR1, runs N
// nested pairs, then exits. Not the semaphore wait of tracer_wait.hpp:
// libbpf's generic attach opens one perf uprobe per site, and the kernel
// raises the semaphore when it opens one, before the program is attached to
// it; the handshake waits for kernspan's "attached" instead.
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#include "ready_signal.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>

extern "C" {
__extension__ unsigned short kernspan_span_begin_semaphore
    __attribute__((unused, section(".probes"))) = 0;
__extension__ unsigned short kernspan_span_end_semaphore
    __attribute__((unused, section(".probes"))) = 0;
}

namespace {
// Loaded into locals so the notes name whatever registers the compiler
// chose (8@%rbx, 8@%rbp...) rather than our header's 8@%rdi.
const char *volatile g_names[2] = {"sdt_outer", "sdt_inner"};
} // namespace

#define BEGIN(i)                                                                                   \
  do {                                                                                             \
    if (__atomic_load_n(&kernspan_span_begin_semaphore, __ATOMIC_RELAXED) != 0) {                  \
      DTRACE_PROBE1(kernspan, span_begin, n[i]);                                                   \
    }                                                                                              \
  } while (0)
#define END(i)                                                                                     \
  do {                                                                                             \
    if (__atomic_load_n(&kernspan_span_end_semaphore, __ATOMIC_RELAXED) != 0) {                    \
      DTRACE_PROBE1(kernspan, span_end, n[i]);                                                     \
    }                                                                                              \
  } while (0)

int main(int argc, char **argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 100;
  const sigset_t go = kernspan_examples::say_ready();
  kernspan_examples::wait_for_go(go);
  const char *const n[2] = {g_names[0], g_names[1]};
  for (int i = 0; i < count; i++) {
    BEGIN(0);
    BEGIN(1);
    END(1);
    END(0);
  }
  return 0;
}
