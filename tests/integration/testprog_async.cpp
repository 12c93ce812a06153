// SPDX-License-Identifier: Apache-2.0
// Target for --span id=argK: jobs start on one thread and finish on another.
// Its probes are written with the stapsdt note macros of kernspan.h but are
// not span markers: kernspan:job_start(id, name) on the producer thread,
// kernspan:job_done(id, status) on the consumer thread. Prints "ready",
// waits for SIGUSR1, runs --jobs jobs, exits.
#include "ready_signal.hpp"

#include <kernspan/kernspan.h>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

extern "C" {
KERNSPAN_DEFINE_SEMAPHORE_(job_start);
KERNSPAN_DEFINE_SEMAPHORE_(job_done);
}

int main(int argc, char **argv) {
  long jobs = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--jobs") == 0) {
      jobs = std::atol(argv[i + 1]);
    }
  }
  kernspan_examples::wait_for_go(kernspan_examples::say_ready());

  std::mutex mu;
  std::condition_variable cv;
  std::deque<long> queue;
  bool done = false;
  std::thread consumer([&] {
    for (;;) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !queue.empty() || done; });
      if (queue.empty()) {
        return;
      }
      const long id = queue.front();
      queue.pop_front();
      lock.unlock();
      const long status = id % 3;
      KERNSPAN_PROBE2_(job_done, id, status);
    }
  });
  static const char *const kNames[] = {"resize", "encode", "upload"};
  for (long id = 1000; id < 1000 + jobs; id++) {
    const char *name = kNames[id % 3];
    // In a register: libbpf 1.1 cannot read an indexed memory operand
    // ("8@(%r14,%rax,8)"), which is what the compiler picks otherwise.
    __asm__ __volatile__("" : "+r"(name));
    KERNSPAN_PROBE2_(job_start, id, name);
    {
      std::lock_guard<std::mutex> lock(mu);
      queue.push_back(id);
    }
    cv.notify_one();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_one();
  consumer.join();
  return 0;
}
