// SPDX-License-Identifier: Apache-2.0
// Ends one span, then exits the whole process from a thread that has two
// spans open: kernspan must report those two as incomplete.
#include <kernspan/kernspan.h>

#include "tracer_wait.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

int main() {
  // Every site of both probes must be watched before the first span.
  KERNSPAN_EXAMPLES_REQUIRE_SPAN_TRACER("testprog");
  { kernspan::Span done("done"); }
  std::thread t([] {
    KERNSPAN_BEGIN("outer");
    KERNSPAN_BEGIN("inner");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::exit(0); // ends every thread of the process with two spans open
  });
  t.join();
  return 1; // not reached
}
