// SPDX-License-Identifier: Apache-2.0
// Span names and thread names that change: kernspan sends a name found in a
// read-only mapping once per thread and a thread's comm once until it is
// renamed, so this checks that neither shortcut ever shows a stale name.
//   - "literal" spans: a string literal (.rodata, sent once);
//   - "dyn0".."dyn2": one stack buffer rewritten between spans (the same
//     address, different text: must be copied every time);
//   - heap names: a fresh std::string per span, often at a reused address;
//   - the thread renames itself (prctl) and later spans carry the new comm;
//   - a second thread renamed by the first (pthread_setname_np).
#include <kernspan/kernspan.h>

#include "tracer_wait.hpp"

#include <atomic>
#include <cstdio>
#include <pthread.h>
#include <string>
#include <sys/prctl.h>
#include <thread>

namespace {
constexpr int kRounds = 300;

void spans_of(const char *name, int n) {
  for (int i = 0; i < n; i++) {
    KERNSPAN_BEGIN(name);
    KERNSPAN_END(name);
  }
}
} // namespace

int main() {
  KERNSPAN_EXAMPLES_REQUIRE_SPAN_TRACER("testprog");
  prctl(PR_SET_NAME, "names-main");
  char buf[16];
  for (int i = 0; i < kRounds; i++) {
    spans_of("literal", 1);
    std::snprintf(buf, sizeof(buf), "dyn%d", i % 3);
    spans_of(buf, 1);
    const std::string heap = "heap" + std::to_string(i % 5) + std::string(20, 'x');
    spans_of(heap.c_str(), 1);
  }
  prctl(PR_SET_NAME, "names-renamed");
  spans_of("literal", kRounds);

  std::atomic<int> stage{0};
  std::thread worker([&] {
    spans_of("worker", kRounds); // comm inherited: names-renamed
    stage.store(1);
    while (stage.load() != 2) {
      std::this_thread::yield();
    }
    spans_of("worker", kRounds); // renamed by main: names-worker
  });
  while (stage.load() != 1) {
    std::this_thread::yield();
  }
  pthread_setname_np(worker.native_handle(), "names-worker");
  stage.store(2);
  worker.join();
  std::printf("rounds %d\n", kRounds);
  return 0;
}
