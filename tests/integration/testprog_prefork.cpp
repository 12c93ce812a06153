// SPDX-License-Identifier: Apache-2.0
// A pre-fork server in miniature: the parent runs spans while traced, then
// forks workers that run the same span sites (the inherited text pages hold
// whatever the kernel wrote at those sites for the parent).
//
// Prints "ready", waits for SIGUSR1 (with --wait-tracer instead: until a
// tracer watches span_begin, for tracers that cannot send the signal; such
// a run's processes never dump core), does --spans K spans ("prefork_span"
// around prefork_work), forks --workers N workers that each do K spans and
// exit 0, waits for all of them and prints one line per worker:
//   "worker <pid> exit <code>" or "worker <pid> signal <signo>"
// then "workers ok=<n> failed=<m>". Exits 0 only if every worker exited 0.
#include "ready_signal.hpp"
#include "tracer_wait.hpp"

#include <kernspan/kernspan.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <vector>

extern "C" __attribute__((noipa)) long prefork_work(long i) {
  return i * 7;
}

namespace {

long do_spans(long k) {
  long sum = 0;
  for (long i = 0; i < k; i++) {
    kernspan::Span span("prefork_span");
    sum += prefork_work(i);
  }
  return sum;
}

} // namespace

int main(int argc, char **argv) {
  long workers = 50;
  long spans = 20;
  bool wait_tracer = false;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
      workers = std::atol(argv[++i]);
    } else if (std::strcmp(argv[i], "--spans") == 0 && i + 1 < argc) {
      spans = std::atol(argv[++i]);
    } else if (std::strcmp(argv[i], "--wait-tracer") == 0) {
      wait_tracer = true;
    } else {
      std::fprintf(stderr, "usage: %s [--workers N] [--spans K] [--wait-tracer]\n", argv[0]);
      return 2;
    }
  }
  if (wait_tracer) {
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); // a crash here is expected: no core files
    std::printf("ready\n");
    std::fflush(stdout);
    const std::atomic<bool> never{false};
    if (!kernspan_examples::wait_for_tracer({KERNSPAN_EXAMPLES_PROBE(span_begin)}, 30000, never,
                                            300)) {
      std::fprintf(stderr, "no tracer attached\n");
      return 3;
    }
  } else {
    const sigset_t set = kernspan_examples::say_ready();
    kernspan_examples::wait_for_go(set);
  }
  do_spans(spans); // the parent hits every site first, as a server warming up
  std::vector<pid_t> pids;
  for (long n = 0; n < workers; n++) {
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      break;
    }
    if (pid == 0) {
      do_spans(spans);
      _exit(0);
    }
    pids.push_back(pid);
  }
  long ok = 0;
  long failed = 0;
  for (pid_t pid : pids) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) {
      failed++;
      continue;
    }
    if (WIFEXITED(st)) {
      std::printf("worker %d exit %d\n", pid, WEXITSTATUS(st));
      (WEXITSTATUS(st) == 0 ? ok : failed)++;
    } else {
      std::printf("worker %d signal %d\n", pid, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
      failed++;
    }
  }
  std::printf("workers ok=%ld failed=%ld\n", ok, failed);
  std::fflush(stdout);
  return failed == 0 && ok == workers ? 0 : 1;
}
