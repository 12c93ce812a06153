// SPDX-License-Identifier: Apache-2.0
// A span whose end comes long after --span-timeout, one that ends in time,
// and one that never ends while the thread lives on: kernspan must report
// the late and the lost ones once each, as incomplete.
#include <kernspan/kernspan.h>

#include "tracer_wait.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

int main() {
  KERNSPAN_EXAMPLES_REQUIRE_SPAN_TRACER("testprog");
  { kernspan::Span quick("quick"); }
  {
    kernspan::Span late("late"); // ends after ~4 s: past a 1 s timeout
    std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  }
  KERNSPAN_BEGIN("lost"); // never ended: the thread waits, then the process exits normally
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  std::printf("done\n");
  return 0;
}
