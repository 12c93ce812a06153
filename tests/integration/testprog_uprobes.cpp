// SPDX-License-Identifier: Apache-2.0
// Target for the function uprobe tests. It prints "ready", waits for
// SIGUSR1 (sent once kernspan has attached), makes a known number of calls,
// writes its own counts as JSON and exits.
//
//   app_add(i, 1)            --calls times, in the PIE, extern "C"
//     fnlib_square(i)        once per app_add, in libksfn.so
//   static_helper(i)         2 x --calls, static (only in .symtab)
//   shop::Cache::lookup(k)   3 x --calls, a C++ method
//   outer() -> jumper()      --jumps times; jumper longjmps out of itself
#include "fnlib.hpp"
#include "ready_signal.hpp"

#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

extern "C" __attribute__((noipa)) long app_add(long a, long b) {
  return a + b + fnlib_square(a) * 0;
}

static __attribute__((noipa)) int static_helper(int x) {
  return x ^ 0x5a;
}

namespace shop {
struct Cache {
  int seed = 7;
  __attribute__((noipa)) int lookup(int key) const { return key * seed; }
};
} // namespace shop

static std::jmp_buf g_env;

extern "C" __attribute__((noipa)) void jumper(int n) {
  if (n >= 0) {
    std::longjmp(g_env, 1); // jumper never returns
  }
}

extern "C" __attribute__((noipa)) int outer(int n) {
  if (setjmp(g_env) == 0) {
    jumper(n);
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  long calls = 100;
  long jumps = 0;
  const char *report = nullptr;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--calls") == 0) {
      calls = std::atol(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--jumps") == 0) {
      jumps = std::atol(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--report") == 0) {
      report = argv[i + 1];
    }
  }
  kernspan_examples::wait_for_go(kernspan_examples::say_ready());

  long sum = 0;
  const shop::Cache cache;
  for (long i = 0; i < calls; i++) {
    sum += app_add(i, 1);
    sum += static_helper(static_cast<int>(i));
    sum += static_helper(static_cast<int>(i) + 1);
    for (int k = 0; k < 3; k++) {
      sum += cache.lookup(static_cast<int>(i) + k);
    }
  }
  long jumped = 0;
  for (long i = 0; i < jumps; i++) {
    jumped += outer(static_cast<int>(i));
  }
  if (report != nullptr) {
    FILE *f = std::fopen(report, "w");
    if (f == nullptr) {
      return 2;
    }
    std::fprintf(f,
                 "{\"pid\": %d, \"app_add\": %ld, \"fnlib_square\": %ld, \"static_helper\": %ld, "
                 "\"lookup\": %ld, \"outer\": %ld, \"jumper\": %ld, \"sum\": %ld}\n",
                 static_cast<int>(getpid()), calls, calls, 2 * calls, 3 * calls, jumps, jumped,
                 sum);
    std::fclose(f);
  }
  return 0;
}
