// SPDX-License-Identifier: Apache-2.0
//
// demo_service - a small request-serving program marked with kernspan spans.
//
// Each request is one span tree:
//
//   handle_request            (or joins --traceparent's trace)
//   ├── parse                 CPU work: hash a synthetic request body
//   ├── query                 disk: read a slice of a file made at start-up
//   │   └── query.read
//   └── render                loopback TCP: send the response to an
//                             in-process echo server and read it back
//
// The program times every span itself with CLOCK_MONOTONIC (the clock behind
// bpf_ktime_get_ns), reading the clock just before the span's BEGIN probe and
// just after its END probe. A tracer's duration for a span is therefore never
// longer than the app's own, which is what --report lets tests check.
//
// Exit codes: 0 done (also after SIGINT/SIGTERM), 1 runtime error, 2 bad
// usage, 3 --wait-for-tracer timed out.

#include <kernspan/kernspan.h>

#include "tracer_wait.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// Sleeps until the monotonic time `deadline_ns`, in slices short enough to
// notice a stop request. Returns false if asked to stop first.
bool sleep_until(uint64_t deadline_ns) {
  constexpr uint64_t kSlice = 50'000'000; // 50 ms
  for (;;) {
    if (g_stop.load(std::memory_order_relaxed)) {
      return false;
    }
    uint64_t now = now_ns();
    if (now >= deadline_ns) {
      return true;
    }
    uint64_t step = deadline_ns - now < kSlice ? deadline_ns - now : kSlice;
    timespec ts{static_cast<time_t>(step / 1'000'000'000ULL),
                static_cast<long>(step % 1'000'000'000ULL)};
    nanosleep(&ts, nullptr);
  }
}

// ---- the app's own timing of every span ---------------------------------

enum SpanKind { kHandleRequest, kParse, kQuery, kQueryRead, kRender, kSpanKinds };
constexpr std::array<const char *, kSpanKinds> kSpanNames = {"handle_request", "parse", "query",
                                                             "query.read", "render"};

struct SpanStat {
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  uint64_t min_ns = UINT64_MAX;
  uint64_t max_ns = 0;

  void add(uint64_t ns) {
    ++count;
    sum_ns += ns;
    min_ns = ns < min_ns ? ns : min_ns;
    max_ns = ns > max_ns ? ns : max_ns;
  }
  void merge(const SpanStat &o) {
    count += o.count;
    sum_ns += o.sum_ns;
    min_ns = o.min_ns < min_ns ? o.min_ns : min_ns;
    max_ns = o.max_ns > max_ns ? o.max_ns : max_ns;
  }
};
using SpanStats = std::array<SpanStat, kSpanKinds>;

// Reads the clock when made and when destroyed, and records the difference.
class AppClock {
public:
  AppClock(SpanStats &stats, SpanKind kind) : stats_(stats), kind_(kind), start_(now_ns()) {}
  ~AppClock() { stats_[kind_].add(now_ns() - start_); }
  AppClock(const AppClock &) = delete;
  AppClock &operator=(const AppClock &) = delete;

private:
  SpanStats &stats_;
  SpanKind kind_;
  uint64_t start_;
};

// A kernspan span timed by the app. Members are built in order and destroyed
// in reverse: the clock starts before BEGIN and stops after END.
class TimedSpan {
public:
  TimedSpan(SpanStats &stats, SpanKind kind, const char *name) : clock_(stats, kind) {
    span_.emplace(name);
  }
  TimedSpan(SpanStats &stats, SpanKind kind, const char *name, const char *traceparent)
      : clock_(stats, kind) {
    if (traceparent != nullptr) {
      span_.emplace(name, traceparent);
    } else {
      span_.emplace(name);
    }
  }
  TimedSpan(const TimedSpan &) = delete;
  TimedSpan &operator=(const TimedSpan &) = delete;

private:
  AppClock clock_;
  std::optional<kernspan::Span> span_;
};

// ---- loopback echo server -------------------------------------------------

bool write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool read_all(int fd, char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = recv(fd, buf, len, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Accepts connections on 127.0.0.1 and echoes every byte back, one thread
// per connection, until stop() and every client has closed its end.
class EchoServer {
public:
  bool start(std::string &err) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
      err = std::string("socket: ") + strerror(errno);
      return false;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, SOMAXCONN) != 0 || // --threads up to 1024 connect at once
        getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
      err = std::string("echo server on 127.0.0.1: ") + strerror(errno);
      return false;
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
    return true;
  }

  uint16_t port() const { return port_; }

  void stop() {
    stopping_.store(true);
    if (acceptor_.joinable()) {
      acceptor_.join();
    }
    for (auto &t : conns_) {
      t.join();
    }
    conns_.clear();
    if (listen_fd_ >= 0) {
      close(listen_fd_);
    }
    listen_fd_ = -1;
  }

  ~EchoServer() { stop(); }

private:
  void accept_loop() {
    while (!stopping_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) {
        continue;
      }
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      set_nodelay(fd);
      conns_.emplace_back([fd] {
        char buf[4096];
        for (;;) {
          ssize_t n = recv(fd, buf, sizeof buf, 0);
          if (n < 0 && errno == EINTR) {
            continue;
          }
          if (n <= 0 || !write_all(fd, buf, static_cast<size_t>(n))) {
            break;
          }
        }
        close(fd);
      });
    }
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> conns_; // touched only by the acceptor until stop()
};

int connect_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  while (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    if (errno != EINTR) {
      close(fd);
      return -1;
    }
  }
  set_nodelay(fd);
  return fd;
}

// ---- the service ----------------------------------------------------------

struct Options {
  uint64_t requests = 100;
  double rate = 0;
  unsigned threads = 1;
  bool wait_for_tracer = false;
  long wait_timeout_ms = 10000;
  const char *traceparent = nullptr;
  const char *report = nullptr;
  long linger_ms = 0;
};

constexpr size_t kDataFileSize = size_t{256} * 1024;
constexpr size_t kReadSize = 4096;

struct Shared {
  const Options &opt;
  std::string data_path;
  uint16_t echo_port;
  uint64_t start_ns;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
};

// parse: CPU work, an FNV-1a hash over a request body rebuilt per request.
uint64_t parse(SpanStats &stats, uint64_t req) {
  TimedSpan span(stats, kParse, "parse");
  char body[2048];
  for (size_t i = 0; i < sizeof body; ++i) {
    body[i] = static_cast<char>('a' + (req + i * 7) % 26);
  }
  uint64_t h = 1469598103934665603ULL;
  for (int round = 0; round < 8; ++round) {
    for (char c : body) {
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
  }
  return h;
}

// query: read one 4 KiB slice of the data file, picked by the parse result.
bool query(SpanStats &stats, const Shared &sh, uint64_t key, uint64_t &sum) {
  TimedSpan span(stats, kQuery, "query");
  off_t offset = static_cast<off_t>(key % (kDataFileSize / kReadSize) * kReadSize);
  char buf[kReadSize];
  ssize_t n;
  {
    TimedSpan read_span(stats, kQueryRead, "query.read");
    int fd = open(sh.data_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return false;
    }
    n = pread(fd, buf, sizeof buf, offset);
    close(fd);
  }
  if (n != static_cast<ssize_t>(sizeof buf)) {
    return false;
  }
  sum = 0;
  for (char c : buf) {
    sum += static_cast<unsigned char>(c);
  }
  return true;
}

// render: format the response and round-trip it through the echo server.
bool render(SpanStats &stats, int conn, uint64_t req, uint64_t key, uint64_t sum) {
  TimedSpan span(stats, kRender, "render");
  char out[512];
  int len = snprintf(out, sizeof out,
                     "{\"request\":%" PRIu64 ",\"key\":\"%016" PRIx64 "\",\"sum\":%" PRIu64
                     ",\"padding\":\"%0200d\"}\n",
                     req, key, sum, 0);
  if (len <= 0 || static_cast<size_t>(len) >= sizeof out) {
    return false;
  }
  char back[sizeof out];
  size_t n = static_cast<size_t>(len);
  return write_all(conn, out, n) && read_all(conn, back, n) && memcmp(out, back, n) == 0;
}

bool handle_request(SpanStats &stats, const Shared &sh, int conn, uint64_t req) {
  TimedSpan span(stats, kHandleRequest, "handle_request", sh.opt.traceparent);
  uint64_t key = parse(stats, req);
  uint64_t sum = 0;
  if (!query(stats, sh, key, sum)) {
    return false;
  }
  return render(stats, conn, req, key, sum);
}

void worker(Shared &sh, SpanStats &stats, uint64_t &served) {
  int conn = connect_loopback(sh.echo_port);
  if (conn < 0) {
    fprintf(stderr, "demo_service: connect to echo server: %s\n", strerror(errno));
    sh.failed.store(true);
    return;
  }
  const double period_ns = sh.opt.rate > 0 ? 1e9 / sh.opt.rate : 0;
  while (!g_stop.load(std::memory_order_relaxed) && !sh.failed.load()) {
    uint64_t req = sh.next.fetch_add(1);
    if (sh.opt.requests != 0 && req >= sh.opt.requests) {
      break;
    }
    if (period_ns > 0 &&
        !sleep_until(sh.start_ns + static_cast<uint64_t>(static_cast<double>(req) * period_ns))) {
      break;
    }
    if (!handle_request(stats, sh, conn, req)) {
      fprintf(stderr, "demo_service: request %" PRIu64 " failed: %s\n", req, strerror(errno));
      sh.failed.store(true);
      break;
    }
    ++served;
  }
  close(conn);
}

bool make_data_file(std::string &dir, std::string &path) {
  const char *tmp = getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/kernspan-demo.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    return false;
  }
  dir = buf.data();
  path = dir + "/data.bin";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return false;
  }
  std::vector<char> data(kDataFileSize);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i * 31 + i / 4096);
  }
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  return close(fd) == 0 && ok;
}

// Waits until every site of every probe this run fires has a tracer attached,
// so no request starts half-watched.
bool wait_for_tracer(const Options &opt) {
  using kernspan_examples::WatchedProbe;
  const WatchedProbe begin = KERNSPAN_EXAMPLES_PROBE(span_begin);
  const WatchedProbe remote = KERNSPAN_EXAMPLES_PROBE(span_begin_remote);
  const WatchedProbe end = KERNSPAN_EXAMPLES_PROBE(span_end);
  if (opt.traceparent != nullptr) {
    return kernspan_examples::wait_for_tracer({begin, remote, end}, opt.wait_timeout_ms, g_stop);
  }
  return kernspan_examples::wait_for_tracer({begin, end}, opt.wait_timeout_ms, g_stop);
}

bool write_report(const char *file, uint64_t served, const SpanStats &stats) {
  FILE *f = fopen(file, "w");
  if (f == nullptr) {
    return false;
  }
  fprintf(f, "{\n  \"pid\": %d,\n  \"requests\": %" PRIu64 ",\n", getpid(), served);
  fprintf(f, "  \"clock\": \"CLOCK_MONOTONIC, read before BEGIN and after END\",\n");
  fprintf(f, "  \"spans\": {\n");
  for (int k = 0; k < kSpanKinds; ++k) {
    const SpanStat &s = stats[k];
    fprintf(f,
            "    \"%s\": {\"count\": %" PRIu64 ", \"sum_ns\": %" PRIu64 ", \"min_ns\": %" PRIu64
            ", \"max_ns\": %" PRIu64 "}%s\n",
            kSpanNames[k], s.count, s.sum_ns, s.count ? s.min_ns : 0, s.max_ns,
            k + 1 < kSpanKinds ? "," : "");
  }
  fprintf(f, "  }\n}\n");
  return fclose(f) == 0;
}

void usage(FILE *out) {
  fprintf(out,
          "usage: demo_service [options]\n"
          "  --requests N         requests to serve, 0 = until SIGINT/SIGTERM (default 100)\n"
          "  --rate R             requests per second over all threads, 0 = unpaced (default 0)\n"
          "  --threads T          worker threads sharing the requests (default 1)\n"
          "  --wait-for-tracer    start serving only once a tracer is attached\n"
          "  --wait-timeout-ms N  give up waiting after N ms, exit 3 (default 10000)\n"
          "  --traceparent STR    root spans join this W3C trace context\n"
          "  --report FILE        write served requests and per-span app timings as JSON\n"
          "  --linger-ms N        stay alive N ms after the last request (default 0)\n");
}

bool parse_u64(const char *s, uint64_t &out) {
  char *end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || *s == '-') {
    return false;
  }
  out = v;
  return true;
}

int parse_options(int argc, char **argv, Options &opt) {
  enum { kRequests = 1, kRate, kThreads, kWait, kWaitTimeout, kTraceparent, kReport, kLinger };
  static const option longopts[] = {
      {"requests", required_argument, nullptr, kRequests},
      {"rate", required_argument, nullptr, kRate},
      {"threads", required_argument, nullptr, kThreads},
      {"wait-for-tracer", no_argument, nullptr, kWait},
      {"wait-timeout-ms", required_argument, nullptr, kWaitTimeout},
      {"traceparent", required_argument, nullptr, kTraceparent},
      {"report", required_argument, nullptr, kReport},
      {"linger-ms", required_argument, nullptr, kLinger},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1) {
    uint64_t v = 0;
    char *end = nullptr;
    switch (c) {
    case kRequests:
      if (!parse_u64(optarg, opt.requests)) {
        goto bad;
      }
      break;
    case kRate:
      opt.rate = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !(opt.rate >= 0)) {
        goto bad;
      }
      break;
    case kThreads:
      if (!parse_u64(optarg, v) || v == 0 || v > 1024) {
        goto bad;
      }
      opt.threads = static_cast<unsigned>(v);
      break;
    case kWait:
      opt.wait_for_tracer = true;
      break;
    case kWaitTimeout:
      if (!parse_u64(optarg, v) || v > 86'400'000) {
        goto bad;
      }
      opt.wait_timeout_ms = static_cast<long>(v);
      break;
    case kTraceparent:
      opt.traceparent = optarg;
      break;
    case kReport:
      opt.report = optarg;
      break;
    case kLinger:
      if (!parse_u64(optarg, v) || v > 86'400'000) {
        goto bad;
      }
      opt.linger_ms = static_cast<long>(v);
      break;
    case 'h':
      usage(stdout);
      exit(0);
    default: // getopt_long has said what was wrong
      fprintf(stderr, "demo_service: see --help\n");
      return 2;
    }
    continue;
  bad:
    fprintf(stderr, "demo_service: invalid value '%s' for --%s (see --help)\n", optarg,
            longopts[c - 1].name);
    return 2;
  }
  if (optind < argc) {
    fprintf(stderr, "demo_service: unexpected argument '%s' (see --help)\n", argv[optind]);
    return 2;
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options opt;
  if (int rc = parse_options(argc, argv, opt); rc != 0) {
    return rc;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::string dir, data_path;
  if (!make_data_file(dir, data_path)) {
    fprintf(stderr, "demo_service: cannot create a data file under $TMPDIR or /tmp: %s\n",
            strerror(errno));
    return 1;
  }
  auto cleanup = [&] {
    unlink(data_path.c_str());
    rmdir(dir.c_str());
  };

  EchoServer echo;
  std::string err;
  if (!echo.start(err)) {
    fprintf(stderr, "demo_service: %s\n", err.c_str());
    cleanup();
    return 1;
  }

  if (opt.wait_for_tracer) {
    fprintf(stderr, "demo_service: pid %d waiting for a tracer\n", getpid());
    if (!wait_for_tracer(opt) && !g_stop.load()) {
      fprintf(stderr, "demo_service: no tracer attached within %ld ms (--wait-timeout-ms)\n",
              opt.wait_timeout_ms);
      echo.stop();
      cleanup();
      return 3;
    }
  }

  Shared sh{opt, data_path, echo.port(), now_ns()};
  std::vector<SpanStats> stats(opt.threads);
  std::vector<uint64_t> served(opt.threads, 0);
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < opt.threads; ++i) {
    workers.emplace_back(worker, std::ref(sh), std::ref(stats[i]), std::ref(served[i]));
  }
  for (auto &t : workers) {
    t.join();
  }
  echo.stop();

  if (opt.linger_ms > 0) {
    sleep_until(now_ns() + static_cast<uint64_t>(opt.linger_ms) * 1'000'000ULL);
  }

  uint64_t total = 0;
  SpanStats all{};
  for (unsigned i = 0; i < opt.threads; ++i) {
    total += served[i];
    for (int k = 0; k < kSpanKinds; ++k) {
      all[k].merge(stats[i][k]);
    }
  }
  cleanup();

  int rc = sh.failed.load() ? 1 : 0;
  if (opt.report != nullptr && !write_report(opt.report, total, all)) {
    fprintf(stderr, "demo_service: cannot write --report %s: %s\n", opt.report, strerror(errno));
    rc = 1;
  }
  printf("demo_service: served %" PRIu64 " requests\n", total);
  return rc;
}
