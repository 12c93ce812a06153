// SPDX-License-Identifier: Apache-2.0
//
// spine_bench - the driver behind bench/run_spine.sh (needs root).
//
// Measures, in one run, with repetitions interleaved and medians taken:
//   * per-span cost on the traced app: span_loop's ns per BEGIN+END pair,
//     untraced and under the tracers (two empty bpftrace programs = the
//     floor; kernspan's own empty programs, alone and with one clock read
//     each; bpftrace's minimal latency histogram; kernspan trace), each on
//     the header's 5-byte NOP site and on a sys/sdt.h 1-byte NOP site;
//   * time from a tracer's spawn until every probe site is live (span_loop
//     sees its USDT semaphores reach their site counts), and until the
//     tracer's own "attached"/"Attaching" line;
//   * time from the target's exit to the tracer's exit;
//   * the tracer's peak RSS (wait4 rusage) while the target makes ~R spans/s;
//   * kernspan's per-span ratios to its floor and to bpftrace within rounds
//     of adjacent runs, which the machine's drift between runs does not move.
// Prints tables; asserts nothing.

#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

double ms(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

[[noreturn]] void die(const std::string &msg) {
  fprintf(stderr, "spine_bench: %s\n", msg.c_str());
  exit(1);
}

// ---- child processes ------------------------------------------------------

struct Line {
  uint64_t at_ns;
  std::string text;
};

struct Child {
  std::string name;
  pid_t pid = -1;
  int pidfd = -1;
  int out_fd = -1; // -1 once closed or when not captured
  int err_fd = -1;
  std::string out, out_partial, err_partial; // out: all of stdout
  std::vector<Line> out_lines, err_lines;    // complete lines, with arrival times
  uint64_t spawn_ns = 0;
  uint64_t exit_ns = 0;
  int status = 0;
  rusage usage{};
  bool exited() const { return exit_ns != 0; }
};

// Starts argv[0] with stdout captured (or sent to /dev/null) and stderr
// captured line by line with arrival times. Returns after the exec happened.
Child spawn(const std::string &name, const std::vector<std::string> &args, bool capture_out,
            int cpu = -1) {
  int out[2] = {-1, -1}, err[2], exec_check[2];
  if ((capture_out && pipe2(out, O_CLOEXEC) != 0) || pipe2(err, O_CLOEXEC) != 0 ||
      pipe2(exec_check, O_CLOEXEC) != 0) {
    die(std::string("pipe: ") + strerror(errno));
  }
  std::vector<char *> argv;
  argv.reserve(args.size());
  for (const auto &a : args) {
    argv.push_back(const_cast<char *>(a.c_str()));
  }
  argv.push_back(nullptr);
  Child c;
  c.name = name;
  c.spawn_ns = now_ns();
  c.pid = fork();
  if (c.pid < 0) {
    die(std::string("fork: ") + strerror(errno));
  }
  if (c.pid == 0) {
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(capture_out ? out[1] : devnull, 1);
    dup2(err[1], 2);
    execvp(argv[0], argv.data());
    int e = errno;
    ssize_t ignored = write(exec_check[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  close(exec_check[1]);
  int e = 0;
  if (read(exec_check[0], &e, sizeof e) == static_cast<ssize_t>(sizeof e)) {
    die("cannot run " + args[0] + ": " + strerror(e));
  }
  close(exec_check[0]);
  if (capture_out) {
    close(out[1]);
    c.out_fd = out[0];
  }
  close(err[1]);
  c.err_fd = err[0];
  c.pidfd = static_cast<int>(syscall(SYS_pidfd_open, c.pid, 0));
  if (c.pidfd < 0) {
    die(std::string("pidfd_open: ") + strerror(errno));
  }
  return c;
}

// Reads what a pipe has; splits it into timestamped lines (kept only up to a
// bound: a tracer may print a line per span) and optionally keeps it all.
void drain(int &fd, std::string &partial, std::vector<Line> &lines, std::string *all) {
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) {
      return;
    }
    close(fd);
    fd = -1;
    if (!partial.empty()) {
      lines.push_back({now_ns(), partial});
    }
    return;
  }
  uint64_t t = now_ns();
  if (all && all->size() < (64u << 20)) {
    all->append(buf, static_cast<size_t>(n));
  }
  partial.append(buf, static_cast<size_t>(n));
  for (size_t nl; (nl = partial.find('\n')) != std::string::npos; partial.erase(0, nl + 1)) {
    if (lines.size() < 1000) {
      lines.push_back({t, partial.substr(0, nl)});
    }
  }
}

// Services every child's pipes and exits until `done()` or the deadline.
template <class Done> bool pump(const std::vector<Child *> &kids, uint64_t deadline_ns, Done done) {
  while (!done()) {
    if (now_ns() >= deadline_ns) {
      return false;
    }
    std::vector<pollfd> fds;
    std::vector<std::pair<Child *, int>> who; // 0 out, 1 err, 2 exit
    for (Child *c : kids) {
      if (c->out_fd >= 0) {
        fds.push_back({c->out_fd, POLLIN, 0});
        who.push_back({c, 0});
      }
      if (c->err_fd >= 0) {
        fds.push_back({c->err_fd, POLLIN, 0});
        who.push_back({c, 1});
      }
      if (!c->exited()) {
        fds.push_back({c->pidfd, POLLIN, 0});
        who.push_back({c, 2});
      }
    }
    if (fds.empty()) {
      return done();
    }
    int n = poll(fds.data(), fds.size(), 20);
    if (n < 0 && errno != EINTR) {
      die(std::string("poll: ") + strerror(errno));
    }
    for (size_t i = 0; n > 0 && i < fds.size(); ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      Child *c = who[i].first;
      switch (who[i].second) {
      case 0:
        drain(c->out_fd, c->out_partial, c->out_lines, &c->out);
        break;
      case 1:
        drain(c->err_fd, c->err_partial, c->err_lines, nullptr);
        break;
      default:
        if (wait4(c->pid, &c->status, WNOHANG, &c->usage) == c->pid) {
          c->exit_ns = now_ns();
          close(c->pidfd);
        }
      }
    }
  }
  return true;
}

void finish(Child &c) {
  if (!c.exited()) {
    kill(c.pid, SIGKILL);
    pump({&c}, now_ns() + 5'000'000'000ULL, [&] { return c.exited(); });
  }
  pump({&c}, now_ns() + 1'000'000'000ULL, [&] { return c.out_fd < 0 && c.err_fd < 0; });
}

std::optional<double> field(const std::string &out, const char *key) {
  std::string k = std::string("\n") + key + " ";
  std::string text = "\n" + out;
  size_t p = text.find(k);
  if (p == std::string::npos) {
    return std::nullopt;
  }
  return strtod(text.c_str() + p + k.size(), nullptr);
}

std::string tail(const Child &c, size_t lines) {
  std::string s;
  size_t from = c.err_lines.size() > lines ? c.err_lines.size() - lines : 0;
  for (size_t i = from; i < c.err_lines.size(); ++i) {
    s += "    | " + c.err_lines[i].text + "\n";
  }
  return s;
}

// ---- the measurements -----------------------------------------------------

struct Options {
  std::string bindir = ".";
  std::string kernspan;
  std::string bpftrace = "bpftrace";
  int reps = 5;
  bool pin = true; // target on CPU 0, tracer on CPU 1: less placement noise
  uint64_t iterations = 200'000;
  uint64_t rss_rate = 100'000;
  uint64_t rss_seconds = 5;
  int rounds = 9; // adjacent floor/kernspan/bpftrace rounds
};

// kernspan twice: spans alone (what is compared with bpftrace's
// equivalent) and with the default per-span costs (scheduler and syscall
// programs too).
// Two floors: bpftrace's empty programs (perf-event uprobes, as the target
// defines it) and kernspan's own empty program attached as its span programs
// are (multi-uprobe links, `kernspan trace --bench-floor`). And that floor
// with one clock read per program (`--bench-floor-clock`): the two reads a
// span's times need, and nothing else; and with those reads and a minimal
// record (start, end) per pair (`--bench-floor-record`): a lower bound for
// any tracer that sends its spans out.
enum Tracer {
  kUntraced,
  kFloor,
  kKsFloor,
  kKsFloorClock,
  kKsFloorRecord,
  kBpftrace,
  kKernspanNoCosts,
  kKernspan,
  kTracers
};
const char *const kTracerNames[] = {"untraced",
                                    "floor (2 empty bpftrace progs)",
                                    "floor (empty, kernspan attach)",
                                    "ks floor + 1 clock read each",
                                    "ks floor + clock + record/pair",
                                    "bpftrace @s[tid]/hist",
                                    "kernspan trace --no-costs",
                                    "kernspan trace (costs)"};
bool is_kernspan(int t) {
  return t == kKsFloor || t == kKsFloorClock || t == kKsFloorRecord || t == kKernspanNoCosts ||
         t == kKernspan;
}
enum Site { kNop5, kNop1, kSites };
const char *const kSiteNames[] = {"nop5", "nop1"};

struct Run {
  double ns_per_iter = NAN;     // wall time per BEGIN+END pair
  double cpu_ns_per_iter = NAN; // the loop thread's CPU time per pair
  double live_ms = NAN;         // tracer spawn -> every probe site live
  double self_ms = NAN;         // tracer spawn -> its own attached/Attaching line
  double exit_ms = NAN;         // target exit -> tracer exit
  double rss_mib = NAN;         // tracer peak RSS
  double spans_per_s = NAN;     // achieved by the target
  double iwi_per_k = NAN;       // IRQ-work interrupts (all CPUs) per 1000 pairs
  std::string note;
};

// IRQ-work interrupts so far, summed over CPUs: a BPF ring buffer wakes its
// consumer through irq_work, a self-IPI (a VM exit on a guest).
double irq_work_count() {
  FILE *f = fopen("/proc/interrupts", "r");
  if (f == nullptr) {
    return NAN;
  }
  char line[4096];
  double total = NAN;
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    while (*p == ' ') {
      ++p;
    }
    if (strncmp(p, "IWI:", 4) != 0) {
      continue;
    }
    total = 0;
    for (p += 4;;) {
      char *end = nullptr;
      double v = strtod(p, &end);
      if (end == p) {
        break;
      }
      total += v;
      p = end;
    }
  }
  fclose(f);
  return total;
}

// flat_out: the per-span runs, where span_loop makes spans faster than any
// consumer writes them; kernspan then gets a ring buffer that holds the whole
// run, so no record is dropped (a dropped record would skip its write and
// flatter the figure). The RSS runs keep the default 4 MiB.
std::vector<std::string> tracer_args(const Options &o, Tracer t, const std::string &bin, pid_t pid,
                                     uint64_t seconds, bool flat_out) {
  std::string p = std::to_string(pid);
  const std::vector<std::string> ring =
      flat_out ? std::vector<std::string>{"--ringbuf-mb", "64"} : std::vector<std::string>{};
  if (is_kernspan(t)) {
    std::vector<std::string> a = {o.kernspan, "trace",     "-p", p, "-d", std::to_string(seconds),
                                  "-o",       "/dev/null", "-q"};
    if (t == kKsFloor || t == kKsFloorClock) {
      // emits nothing: no ring buffer to size
      a.push_back(t == kKsFloor ? "--bench-floor" : "--bench-floor-clock");
      return a;
    }
    if (t == kKsFloorRecord) {
      a.push_back("--bench-floor-record");
      a.insert(a.end(), ring.begin(), ring.end());
      return a;
    }
    if (t == kKernspanNoCosts) {
      a.push_back("--no-costs");
    }
    a.insert(a.end(), ring.begin(), ring.end());
    return a;
  }
  std::string probe = "usdt:" + bin + ":kernspan:";
  switch (t) {
  case kFloor:
    return {o.bpftrace, "-p", p, "-e", probe + "span_begin {} " + probe + "span_end {}"};
  case kBpftrace:
    return {o.bpftrace, "-p", p, "-e",
            probe + "span_begin { @s[tid] = nsecs; } " + probe +
                "span_end { @h = hist(nsecs - @s[tid]); }"};
  default:
    return {};
  }
}

Run measure(const Options &o, Tracer t, Site s, uint64_t iterations, uint64_t rate) {
  std::string bin = o.bindir + (s == kNop5 ? "/span_loop" : "/span_loop_nop1");
  std::vector<std::string> args = {bin, "--iterations", std::to_string(iterations)};
  if (rate) {
    args.insert(args.end(), {"--rate", std::to_string(rate)});
  }
  if (t != kUntraced) {
    args.insert(args.end(), {"--wait-for-tracer", "--wait-timeout-ms", "30000"});
  }
  Run r;
  const double iwi_before = irq_work_count();
  Child loop = spawn("span_loop", args, true, o.pin ? 0 : -1);
  std::optional<Child> tracer;
  if (t != kUntraced) {
    // Start the tracer once the target is fully loaded and waiting.
    pump({&loop}, now_ns() + 10'000'000'000ULL,
         [&] { return !loop.err_lines.empty() || loop.exited(); });
    uint64_t budget_s = 60 + (rate ? iterations / rate : 0);
    tracer = spawn(kTracerNames[t], tracer_args(o, t, bin, loop.pid, budget_s, rate == 0), true,
                   o.pin ? 1 : -1);
  }
  std::vector<Child *> kids = {&loop};
  if (tracer) {
    kids.push_back(&*tracer);
  }
  bool ok = pump(kids, now_ns() + 180'000'000'000ULL,
                 [&] { return loop.exited() && (!tracer || tracer->exited()); });
  if (!ok && tracer && loop.exited() && !tracer->exited()) {
    kill(tracer->pid, SIGINT); // it did not notice the target's exit
    r.note = "tracer did not exit with its target";
  }
  finish(loop);
  if (tracer) {
    finish(*tracer);
  }
  r.iwi_per_k = (irq_work_count() - iwi_before) * 1000.0 / static_cast<double>(iterations);

  if (!WIFEXITED(loop.status) || WEXITSTATUS(loop.status) != 0) {
    r.note = "span_loop failed (status " + std::to_string(loop.status) + ")\n" + tail(loop, 5);
    if (tracer) {
      r.note += tail(*tracer, 5);
    }
    return r;
  }
  r.ns_per_iter = field(loop.out, "ns_per_iter").value_or(NAN);
  r.cpu_ns_per_iter = field(loop.out, "cpu_ns_per_iter").value_or(NAN);
  if (tracer) {
    double live_at = field(loop.out, "live_at_ns").value_or(0);
    if (live_at > 0) {
      r.live_ms = (live_at - static_cast<double>(tracer->spawn_ns)) / 1e6;
    }
    const char *marker = is_kernspan(t) ? "attached" : "Attaching";
    for (const auto *lines : {&tracer->err_lines, &tracer->out_lines}) {
      for (const Line &l : *lines) {
        if (l.text.find(marker) != std::string::npos) {
          double at = ms(l.at_ns - tracer->spawn_ns);
          r.self_ms = std::isnan(r.self_ms) || at < r.self_ms ? at : r.self_ms;
          break;
        }
      }
    }
    if (tracer->exited() && r.note.empty()) {
      r.exit_ms = ms(tracer->exit_ns - loop.exit_ns);
    }
    r.rss_mib = static_cast<double>(tracer->usage.ru_maxrss) / 1024.0;
    if (!WIFEXITED(tracer->status) || WEXITSTATUS(tracer->status) != 0) {
      r.note += "tracer exit status " + std::to_string(tracer->status) + "\n" + tail(*tracer, 5);
    }
    if (is_kernspan(t)) { // summary lines reporting drops, if any were counted
      for (size_t p = 0; (p = tracer->out.find("drop", p)) != std::string::npos; ++p) {
        size_t b = tracer->out.rfind('\n', p), e = tracer->out.find('\n', p);
        std::string line =
            tracer->out.substr(b == std::string::npos ? 0 : b + 1,
                               e == std::string::npos ? std::string::npos : e - b - 1);
        if (line.find("(total 0)") == std::string::npos && r.note.find(line) == std::string::npos) {
          r.note += "    | " + line + "\n";
        }
        p = e == std::string::npos ? tracer->out.size() - 1 : e;
      }
    }
  }
  return r;
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) {
    return NAN;
  }
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double lo(const std::vector<double> &v) {
  double m = NAN;
  for (double x : v) {
    if (!std::isnan(x) && (std::isnan(m) || x < m)) {
      m = x;
    }
  }
  return m;
}
double hi(const std::vector<double> &v) {
  double m = NAN;
  for (double x : v) {
    if (!std::isnan(x) && (std::isnan(m) || x > m)) {
      m = x;
    }
  }
  return m;
}

std::string num(double v, const char *fmt = "%.1f") {
  if (std::isnan(v)) {
    return "n/a";
  }
  char b[64];
  snprintf(b, sizeof b, fmt, v);
  return b;
}

std::string ratio(double a, double b) {
  return std::isnan(a) || std::isnan(b) || b == 0 ? "n/a" : num(a / b, "%.2fx");
}

void usage() {
  printf("usage: spine_bench --bindir DIR [--kernspan PATH] [--bpftrace PATH] [--reps N]\n"
         "                   [--iterations N] [--rss-rate SPANS_PER_S] [--rss-seconds S]\n"
         "                   [--rounds N]   (adjacent floor/kernspan/bpftrace rounds, default "
         "9; 0: none)\n"
         "                   [--no-pin]   (default: target pinned to CPU 0, tracer to CPU 1)\n");
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  static const option longopts[] = {
      {"bindir", required_argument, nullptr, 'b'},
      {"kernspan", required_argument, nullptr, 'k'},
      {"bpftrace", required_argument, nullptr, 't'},
      {"reps", required_argument, nullptr, 'r'},
      {"no-pin", no_argument, nullptr, 'P'},
      {"iterations", required_argument, nullptr, 'n'},
      {"rss-rate", required_argument, nullptr, 'R'},
      {"rss-seconds", required_argument, nullptr, 'S'},
      {"rounds", required_argument, nullptr, 'A'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
    switch (c) {
    case 'b':
      o.bindir = optarg;
      break;
    case 'k':
      o.kernspan = optarg;
      break;
    case 't':
      o.bpftrace = optarg;
      break;
    case 'P':
      o.pin = false;
      break;
    case 'r':
      o.reps = atoi(optarg);
      break;
    case 'n':
      o.iterations = strtoull(optarg, nullptr, 10);
      break;
    case 'R':
      o.rss_rate = strtoull(optarg, nullptr, 10);
      break;
    case 'S':
      o.rss_seconds = strtoull(optarg, nullptr, 10);
      break;
    case 'A':
      o.rounds = atoi(optarg);
      break;
    case 'h':
      usage();
      return 0;
    default:
      usage();
      return 2;
    }
  }
  if (o.reps < 1 || o.rounds < 0 || o.iterations == 0 || o.rss_rate == 0 || o.rss_seconds == 0) {
    usage();
    return 2;
  }
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    o.pin = false;
  }
  printf("span_loop %s; %d repetitions, interleaved\n",
         o.pin ? "pinned to CPU 0, tracers to CPU 1" : "not pinned", o.reps);
  if (geteuid() != 0) {
    die("needs root (BPF tracers attach to the benchmark's probes)");
  }
  signal(SIGPIPE, SIG_IGN);
  const bool with_kernspan = !o.kernspan.empty() && access(o.kernspan.c_str(), X_OK) == 0;
  if (!with_kernspan) {
    fprintf(stderr, "spine_bench: no kernspan binary (--kernspan); measuring the others only\n");
  }

  // ---- per-span cost, interleaved ----
  std::vector<std::pair<Tracer, Site>> plan;
  for (int t = 0; t < kTracers; ++t) {
    for (int s = 0; s < kSites; ++s) {
      if (!is_kernspan(t) || with_kernspan) {
        plan.push_back({static_cast<Tracer>(t), static_cast<Site>(s)});
      }
    }
  }
  std::map<std::pair<int, int>, std::vector<Run>> runs;
  std::vector<std::string> notes;
  for (int rep = 0; rep < o.reps; ++rep) {
    fprintf(stderr, "spine_bench: repetition %d/%d\n", rep + 1, o.reps);
    for (size_t i = 0; i < plan.size(); ++i) {
      auto [t, s] = plan[(i + static_cast<size_t>(rep)) % plan.size()]; // rotate the order
      // Untraced loops are ~1 ns per pair: run many more for a stable time.
      uint64_t n = t == kUntraced ? o.iterations * 250 : o.iterations;
      Run r = measure(o, t, s, n, 0);
      if (!r.note.empty()) {
        notes.push_back(std::string(kTracerNames[t]) + " / " + kSiteNames[s] + ": " + r.note);
      }
      runs[{t, s}].push_back(r);
    }
  }
  auto col = [&](int t, int s, double Run::*m) {
    std::vector<double> v;
    for (const Run &r : runs[{t, s}]) {
      v.push_back(r.*m);
    }
    return v;
  };
  auto cost_table = [&](double Run::*metric, const char *what) {
    double cost[kTracers][kSites], added[kTracers][kSites];
    for (int t = 0; t < kTracers; ++t) {
      for (int s = 0; s < kSites; ++s) {
        cost[t][s] = median(col(t, s, metric));
      }
    }
    for (int t = 0; t < kTracers; ++t) {
      for (int s = 0; s < kSites; ++s) {
        added[t][s] = cost[t][s] - cost[kUntraced][s];
      }
    }
    printf("\n%s, ns per BEGIN+END pair: median [min-max] of %d interleaved runs of %" PRIu64
           " pairs;\nadded = traced - untraced; ratios are of added costs.\n\n",
           what, o.reps, o.iterations);
    printf("| %-30s | %-18s | %-18s | %-7s | %-7s | %-9s | %-11s | %-11s | %-14s | %-14s | %-14s "
           "| %-14s |\n",
           "tracer", "nop5 site", "nop1 site", "added 5", "added 1", "nop5/nop1", "/floor nop5",
           "/floor nop1", "/ks-floor nop5", "/ks-floor nop1", "/bpftrace nop5", "/bpftrace nop1");
    printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(32, '-').c_str(),
           std::string(20, '-').c_str(), std::string(20, '-').c_str(), std::string(9, '-').c_str(),
           std::string(9, '-').c_str(), std::string(11, '-').c_str(), std::string(13, '-').c_str(),
           std::string(13, '-').c_str(), std::string(16, '-').c_str(), std::string(16, '-').c_str(),
           std::string(16, '-').c_str(), std::string(16, '-').c_str());
    for (int t = 0; t < kTracers; ++t) {
      if (is_kernspan(t) && !with_kernspan) {
        continue;
      }
      std::string cells[kSites];
      for (int s = 0; s < kSites; ++s) {
        auto v = col(t, s, metric);
        const char *f = t == kUntraced ? "%.1f" : "%.0f";
        cells[s] = num(cost[t][s], f) + " [" + num(lo(v), f) + "-" + num(hi(v), f) + "]";
      }
      bool traced = t != kUntraced;
      auto r = [&](double a, double b) { return traced ? ratio(a, b) : std::string(); };
      printf("| %-30s | %-18s | %-18s | %-7s | %-7s | %-9s | %-11s | %-11s | %-14s | %-14s | "
             "%-14s | %-14s |\n",
             kTracerNames[t], cells[0].c_str(), cells[1].c_str(),
             traced ? num(added[t][0], "%.0f").c_str() : "",
             traced ? num(added[t][1], "%.0f").c_str() : "", r(added[t][0], added[t][1]).c_str(),
             r(added[t][0], added[kFloor][0]).c_str(), r(added[t][1], added[kFloor][1]).c_str(),
             r(added[t][0], added[kKsFloor][0]).c_str(), r(added[t][1], added[kKsFloor][1]).c_str(),
             r(added[t][0], added[kBpftrace][0]).c_str(),
             r(added[t][1], added[kBpftrace][1]).c_str());
    }
  };
  cost_table(&Run::cpu_ns_per_iter,
             "Per-span cost, CPU time of the app's thread (user + kernel, so the probe "
             "handling\nand BPF programs count; time taken by other processes does not)");
  cost_table(&Run::ns_per_iter, "Per-span cost, wall time of the app's loop");
  // ---- adjacent runs: ratios that the machine's drift does not move ----
  // The floor itself drifts by 20% between runs minutes apart, as much as
  // the distances measured. Here each round runs the floor, kernspan and
  // bpftrace back to back (order rotated) on nop5 sites, and each ratio is
  // taken within its round.
  if (with_kernspan && o.rounds > 0) {
    const Tracer group[] = {kKsFloor, kKsFloorClock, kKsFloorRecord, kKernspanNoCosts, kBpftrace};
    const size_t ng = std::size(group);
    const double base = median(col(kUntraced, kNop5, &Run::cpu_ns_per_iter));
    std::vector<double> to_floor, to_bpftrace, clock_to_floor, record_to_floor;
    for (int k = 0; k < o.rounds; ++k) {
      fprintf(stderr, "spine_bench: adjacent round %d/%d\n", k + 1, o.rounds);
      double added[kTracers] = {};
      for (size_t i = 0; i < ng; ++i) {
        const Tracer t = group[(i + static_cast<size_t>(k)) % ng];
        added[t] = measure(o, t, kNop5, o.iterations, 0).cpu_ns_per_iter - base;
      }
      to_floor.push_back(added[kKernspanNoCosts] / added[kKsFloor]);
      to_bpftrace.push_back(added[kKernspanNoCosts] / added[kBpftrace]);
      clock_to_floor.push_back(added[kKsFloorClock] / added[kKsFloor]);
      record_to_floor.push_back(added[kKsFloorRecord] / added[kKsFloor]);
    }
    printf("\nnop5 site, ratios of added CPU cost within each of %d rounds of adjacent runs\n"
           "(the three floors, kernspan, bpftrace; order rotated), median [min-max]:\n",
           o.rounds);
    auto line = [](const char *what, const std::vector<double> &v) {
      printf("  %-40s %s [%s-%s]\n", what, num(median(v), "%.2fx").c_str(),
             num(lo(v), "%.2fx").c_str(), num(hi(v), "%.2fx").c_str());
    };
    line("kernspan trace --no-costs /ks-floor", to_floor);
    line("kernspan trace --no-costs /bpftrace", to_bpftrace);
    line("ks floor + 1 clock read each /ks-floor", clock_to_floor);
    line("ks floor + clock + record/pair /ks-floor", record_to_floor);
  }

  printf("\nIRQ-work interrupts (ring buffer wake-ups are self-IPIs) per 1000 pairs, median "
         "[min-max]:\n");
  for (int t = kFloor; t < kTracers; ++t) {
    if (is_kernspan(t) && !with_kernspan) {
      continue;
    }
    printf("  %-30s", kTracerNames[t]);
    for (int s = 0; s < kSites; ++s) {
      auto v = col(t, s, &Run::iwi_per_k);
      printf("  %s %s [%s-%s]", kSiteNames[s], num(median(v), "%.1f").c_str(),
             num(lo(v), "%.1f").c_str(), num(hi(v), "%.1f").c_str());
    }
    printf("\n");
  }

  // ---- attach, exit and memory at a steady span rate ----
  printf("\nTracer start-up, shutdown and memory (nop5 site). Attach columns are medians over "
         "the runs above (kernspan there has a 64 MiB ring buffer) and, \"at defaults\", over %d "
         "short paced runs with kernspan's default 4 MiB; RSS is at ~%" PRIu64 " spans/s for "
         "%" PRIu64 " s.\n\n",
         o.reps, o.rss_rate, o.rss_seconds);
  printf("| %-30s | %-20s | %-20s | %-22s | %-20s | %-14s | %-12s |\n", "tracer",
         "spawn->sites live ms", "live ms at defaults", "spawn->own line ms",
         "target exit->exit ms", "peak RSS MiB", "spans/s");
  printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(32, '-').c_str(), std::string(22, '-').c_str(),
         std::string(22, '-').c_str(), std::string(24, '-').c_str(), std::string(22, '-').c_str(),
         std::string(16, '-').c_str(), std::string(14, '-').c_str());
  for (int t = kFloor; t < kTracers; ++t) {
    if ((is_kernspan(t) && !with_kernspan) || t == kKsFloorClock || t == kKsFloorRecord) {
      continue; // these floors start and stop as the floor does
    }
    uint64_t n = o.rss_rate * o.rss_seconds;
    Run steady = measure(o, static_cast<Tracer>(t), kNop5, n, o.rss_rate);
    if (!steady.note.empty()) {
      notes.push_back(std::string(kTracerNames[t]) + " at steady rate: " + steady.note);
    }
    double spans_per_s = 1e9 / steady.ns_per_iter;
    std::vector<double> live, self, ex;
    for (int s = 0; s < kSites; ++s) {
      for (const Run &r : runs[{t, s}]) {
        live.push_back(r.live_ms);
        self.push_back(r.self_ms);
        ex.push_back(r.exit_ms);
      }
    }
    ex.push_back(steady.exit_ms);
    // The attach target is for a plain start: short runs with the tracer's
    // default settings (the paced runs give kernspan no --ringbuf-mb).
    std::vector<double> live_default;
    live_default.reserve(static_cast<size_t>(o.reps));
    for (int k = 0; k < o.reps; ++k) {
      live_default.push_back(measure(o, static_cast<Tracer>(t), kNop5, 2000, o.rss_rate).live_ms);
    }
    printf("| %-30s | %-20s | %-20s | %-22s | %-20s | %-14s | %-12s |\n", kTracerNames[t],
           num(median(live)).c_str(), num(median(live_default)).c_str(), num(median(self)).c_str(),
           num(median(ex)).c_str(), num(steady.rss_mib).c_str(), num(spans_per_s, "%.0f").c_str());
  }
  printf("\nspawn->sites live: from the tracer's fork until span_loop saw every USDT semaphore at\n"
         "its site count. Own line: kernspan's \"attached\" line; bpftrace's \"Attaching N "
         "probes...\",\nwhich it prints before attaching.\n");
  if (!notes.empty()) {
    printf("\nNotes:\n");
    for (const auto &n : notes) {
      printf("  %s", (n + (n.back() == '\n' ? "" : "\n")).c_str());
    }
  }
  return 0;
}
