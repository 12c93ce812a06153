// SPDX-License-Identifier: Apache-2.0
// Triggers the span-stack drop counters a known number of times, with
// kernspan.h's own markers, on one thread:
//   span_stack_overflow  8: spans nested 40 deep (the stack holds 32)
//   unmatched_end        7: 5 ends with no span open, 2 ends of a name that
//                           is not open while another span is
//   mismatched_end       3: an outer end with an inner span still open
// and the spans that remain: 32 "deep", 3 "outer", 2 "a" (37).
// Prints "ready", waits for SIGUSR1, does the above, prints "done".
#include "ready_signal.hpp"

#include <kernspan/kernspan.h>

#include <cstdio>

namespace {

// Each level is a real call, so that every begin and end is a probe hit.
__attribute__((noinline)) void nest(int level, int depth) {
  if (level == depth) {
    return;
  }
  KERNSPAN_BEGIN("deep");
  nest(level + 1, depth);
  KERNSPAN_END("deep");
}

} // namespace

int main() {
  const sigset_t set = kernspan_examples::say_ready();
  kernspan_examples::wait_for_go(set);
  nest(0, 40);
  for (int i = 0; i < 5; i++) {
    KERNSPAN_END("orphan");
  }
  for (int i = 0; i < 2; i++) {
    KERNSPAN_BEGIN("a");
    KERNSPAN_END("never_begun");
    KERNSPAN_END("a");
  }
  for (int i = 0; i < 3; i++) {
    KERNSPAN_BEGIN("outer");
    KERNSPAN_BEGIN("inner");
    KERNSPAN_END("outer");
  }
  std::printf("done\n");
  std::fflush(stdout);
  return 0;
}
