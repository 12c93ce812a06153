// SPDX-License-Identifier: Apache-2.0
//
// span_loop - the traced side of the benchmarks: a tight loop of span
// BEGIN/END pairs that times itself.
//
// Built twice from this file:
//   span_loop       kernspan::Span from <kernspan/kernspan.h> (5-byte NOP site)
//   span_loop_nop1  the same probes (provider kernspan, span_begin/span_end,
//                   one pointer argument, semaphore-guarded) written with
//                   <sys/sdt.h>, whose probe site is a 1-byte NOP
// so a tracer sees identical probes and only the site differs.
//
// Prints, on stdout, `key value` lines:
//   iterations N         BEGIN+END pairs done
//   ns_per_iter X        wall time of the loop / N
//   cpu_ns_per_iter X    the loop thread's CPU time / N (user + kernel: the
//                        probe handling and BPF programs run on this thread,
//                        time other processes take from it does not count)
//   live_at_ns T         CLOCK_MONOTONIC when every probe site was watched
//                        (with --wait-for-tracer; 0 otherwise)
//   loop_end_ns T        CLOCK_MONOTONIC when the loop finished

#ifdef KERNSPAN_BENCH_NOP1
// <sys/sdt.h> probes with semaphores: the application defines them and tests
// them itself, as a dtrace -h generated header would.
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
extern "C" {
__extension__ unsigned short kernspan_span_begin_semaphore
    __attribute__((used, section(".probes"), visibility("hidden")));
__extension__ unsigned short kernspan_span_end_semaphore
    __attribute__((used, section(".probes"), visibility("hidden")));
}
namespace bench {
class Span {
public:
  explicit Span(const char *name) noexcept : name_(name) {
    if (__builtin_expect(*static_cast<volatile unsigned short *>(&kernspan_span_begin_semaphore),
                         0)) {
      STAP_PROBE1(kernspan, span_begin, name_);
    }
  }
  ~Span() {
    if (__builtin_expect(__atomic_load_n(&kernspan_span_end_semaphore, __ATOMIC_RELAXED) != 0, 0)) {
      STAP_PROBE1(kernspan, span_end, name_);
    }
  }
  Span(const Span &) = delete;
  Span &operator=(const Span &) = delete;

private:
  const char *name_;
};
} // namespace bench
#define BENCH_SITE "nop1"
#else
#include <kernspan/kernspan.h>
namespace bench {
using Span = kernspan::Span;
}
#define BENCH_SITE "nop5"
#endif

#include "tracer_wait.hpp"

#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}

uint64_t now_ns(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// Kept out of line so every iteration really runs one BEGIN and one END.
__attribute__((noinline)) void one_span() {
  bench::Span span("loop");
  __asm__ __volatile__("" ::: "memory");
}

void usage(FILE *out) {
  fprintf(out, "usage: span_loop [options]   (" BENCH_SITE " probe sites)\n"
               "  --iterations N       BEGIN+END pairs (default 1000000)\n"
               "  --rate R             pace to R pairs per second, 0 = flat out (default 0)\n"
               "  --wait-for-tracer    start only once a tracer watches every probe site\n"
               "  --wait-timeout-ms N  give up waiting after N ms, exit 3 (default 10000)\n"
               "  --linger-ms N        stay alive N ms after the loop (default 0)\n");
}

bool parse_u64(const char *s, uint64_t &out) {
  char *end = nullptr;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != '\0' || *s == '-') {
    return false;
  }
  out = v;
  return true;
}

} // namespace

int main(int argc, char **argv) {
  uint64_t iterations = 1'000'000, rate = 0, wait_timeout_ms = 10000, linger_ms = 0;
  bool wait = false;
  static const option longopts[] = {
      {"iterations", required_argument, nullptr, 'n'},
      {"rate", required_argument, nullptr, 'r'},
      {"wait-for-tracer", no_argument, nullptr, 'w'},
      {"wait-timeout-ms", required_argument, nullptr, 't'},
      {"linger-ms", required_argument, nullptr, 'l'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
    bool ok = true;
    switch (c) {
    case 'n':
      ok = parse_u64(optarg, iterations) && iterations > 0;
      break;
    case 'r':
      ok = parse_u64(optarg, rate);
      break;
    case 'w':
      wait = true;
      break;
    case 't':
      ok = parse_u64(optarg, wait_timeout_ms);
      break;
    case 'l':
      ok = parse_u64(optarg, linger_ms);
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      fprintf(stderr, "span_loop: see --help\n");
      return 2;
    }
    if (!ok) {
      fprintf(stderr, "span_loop: invalid value '%s' (see --help)\n", optarg);
      return 2;
    }
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  uint64_t live_at = 0;
  if (wait) {
    fprintf(stderr, "span_loop: pid %d waiting for a tracer\n", getpid());
    const kernspan_examples::WatchedProbe begin = KERNSPAN_EXAMPLES_PROBE(span_begin);
    const kernspan_examples::WatchedProbe end = KERNSPAN_EXAMPLES_PROBE(span_end);
    if (!kernspan_examples::wait_for_tracer({begin, end}, static_cast<long>(wait_timeout_ms),
                                            g_stop, 0)) {
      fprintf(stderr, "span_loop: no tracer attached within %" PRIu64 " ms\n", wait_timeout_ms);
      return 3;
    }
    live_at = now_ns();
    // Let the tracer finish attaching its program to the last site.
    kernspan_examples::sleep_ms(20);
  }

  uint64_t done = 0;
  const uint64_t start = now_ns();
  const uint64_t cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
  if (rate == 0) {
    for (; done < iterations; ++done) {
      one_span();
    }
  } else {
    // Batches of ~1 ms, each started on schedule.
    const uint64_t batch = rate >= 1000 ? rate / 1000 : 1;
    while (done < iterations && !g_stop.load(std::memory_order_relaxed)) {
      uint64_t due = start + done * 1'000'000'000ULL / rate;
      for (uint64_t now = now_ns(); now < due; now = now_ns()) {
        uint64_t wait_ns = due - now;
        timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000ULL),
                    static_cast<long>(wait_ns % 1'000'000'000ULL)};
        nanosleep(&ts, nullptr);
      }
      for (uint64_t i = 0; i < batch && done < iterations; ++i, ++done) {
        one_span();
      }
    }
  }
  const uint64_t end = now_ns();
  const uint64_t cpu_end = now_ns(CLOCK_THREAD_CPUTIME_ID);

  const double n = done ? static_cast<double>(done) : 1.0;
  printf("site " BENCH_SITE "\niterations %" PRIu64 "\nns_per_iter %.2f\ncpu_ns_per_iter %.2f\n"
         "live_at_ns %" PRIu64 "\nloop_end_ns %" PRIu64 "\n",
         done, static_cast<double>(end - start) / n, static_cast<double>(cpu_end - cpu_start) / n,
         live_at, end);
  fflush(stdout);
  if (linger_ms > 0) {
    kernspan_examples::sleep_ms(static_cast<long>(linger_ms));
  }
  return 0;
}
