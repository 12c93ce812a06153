// SPDX-License-Identifier: Apache-2.0
// Target of the uprobe benchmark (bench/run_uprobes.sh). Built with CET, so
// every function starts with endbr64, and bench_target then with a push:
// the case the entry placement rule is for.
//
//   fn_loop --calls N      print "ready", wait for SIGUSR1, call
//                          bench_target N times, print "ns_per_call X"
//   fn_loop --idle         print "ready" and sleep until killed (attach and
//                          detach timing of the 1000 fn_NNNN functions)
#include "ready_signal.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

extern "C" long (*const ks_bench_many[])(long); // fn_many.cpp, generated
extern "C" const int ks_bench_many_count;

extern "C" __attribute__((noipa)) long bench_leaf(long x) {
  return x * 3;
}

// Keeps x in a callee-saved register across a call, so it begins with
// endbr64; push %rbx (or %rbp), like most real functions.
extern "C" __attribute__((noipa)) long bench_target(long x) {
  return bench_leaf(x) + x;
}

int main(int argc, char **argv) {
  long calls = 1000000;
  bool idle = false;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--calls") == 0 && i + 1 < argc) {
      calls = std::atol(argv[++i]);
    } else if (std::strcmp(argv[i], "--idle") == 0) {
      idle = true;
    }
  }
  const sigset_t set = kernspan_examples::say_ready();
  if (idle) {
    long s = 0;
    for (int i = 0; i < ks_bench_many_count; i++) {
      s += ks_bench_many[i](i); // keep them referenced
    }
    for (;;) {
      pause();
    }
    return static_cast<int>(s);
  }
  kernspan_examples::wait_for_go(set);
  long sum = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; i++) {
    sum += bench_target(i);
  }
  const auto t1 = std::chrono::steady_clock::now();
  const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
  std::printf("ns_per_call %.1f calls %ld sum %ld\n", ns / static_cast<double>(calls), calls, sum);
  return 0;
}
