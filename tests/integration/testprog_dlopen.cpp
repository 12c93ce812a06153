// SPDX-License-Identifier: Apache-2.0
// Target for the dlopen test: prints "ready", waits for SIGUSR1, makes
// --spans K "main_span" spans, dlopens --lib PATH, prints "loaded", waits
// for SIGUSR2 (sent once kernspan has attached the library), calls the
// library's ksdl_run(K) and exits.
#include <kernspan/kernspan.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

int main(int argc, char **argv) {
  long spans = 10;
  const char *lib = nullptr;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--spans") == 0) {
      spans = std::atol(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--lib") == 0) {
      lib = argv[i + 1];
    }
  }
  if (lib == nullptr) {
    std::fprintf(stderr, "usage: %s --lib PATH [--spans K]\n", argv[0]);
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  std::printf("ready\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  for (long i = 0; i < spans; i++) {
    kernspan::Span span("main_span");
  }
  void *h = dlopen(lib, RTLD_NOW);
  if (h == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  auto *run = reinterpret_cast<long (*)(long)>(dlsym(h, "ksdl_run"));
  if (run == nullptr) {
    return 1;
  }
  std::printf("loaded\n");
  std::fflush(stdout);
  do {
    sigwait(&set, &sig);
  } while (sig != SIGUSR2);
  const long sum = run(spans);
  std::printf("done %ld\n", sum);
  return 0;
}
