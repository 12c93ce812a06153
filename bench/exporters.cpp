// SPDX-License-Identifier: Apache-2.0
// Exporter throughput, in one run: spans encoded per
// second by each format, spans delivered per second through the HTTP batch
// sender to a local receiver (OTLP protobuf, OTLP JSON, Zipkin), and the
// /metrics render time at 10k series. With --flood-only (last argument)
// instead: memory under a 1M spans/s flood with a dead collector, refusing
// and then a black hole (--flood-seconds S each, default 10), alone so its
// RSS is the sinks' own. Prints numbers, asserts nothing; not run by ctest.
// Best of --reps runs (default 5), one thread, wall time.
#include "exporters/file_sinks.hpp"
#include "exporters/jsonl.hpp"
#include "exporters/otlp.hpp"
#include "exporters/prometheus.hpp"
#include "exporters/zipkin.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <httplib.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace kernspan;
using Clock = std::chrono::steady_clock;

// A realistic span: a child with a 16-cost record and two attributes.
core::Span make_span(uint64_t i) {
  core::Span s;
  s.name = i % 5 == 0 ? "handle_request" : "query.read";
  s.trace_id = {0x4bf92f3577b34da6ULL + i / 5, 0xa3ce929d0e0e4736ULL};
  s.span_id = 0x1000 + i;
  s.parent_span_id = i % 5 == 0 ? 0 : 0x1000 + i - i % 5;
  s.start_unix_nano = 1'700'000'000'000'000'000ULL + i * 1000;
  s.end_unix_nano = s.start_unix_nano + 12'345 + i % 777;
  s.tgid = 4242;
  s.tid = 4243 + static_cast<uint32_t>(i % 4);
  s.thread = "demo_service";
  s.has_costs = true;
  uint64_t v = i;
  core::for_each_cost(s.costs, [&](const char *, uint64_t &c) { c = v++ % 100'000; });
  s.attributes = {{"http.route", std::string("/api/items")}, {"bytes", int64_t{4096}}};
  return s;
}

double best_seconds(int reps, const std::function<void()> &fn) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

void row(const char *what, double per_second, const char *unit = "spans/s") {
  std::printf("  %-44s %12.0f %s\n", what, per_second, unit);
}

// spans/s through a sink to a local receiver that answers `status`.
double delivered_per_second(
    const std::string &path, int reps, size_t n,
    const std::function<std::unique_ptr<exporters::Sink>(const exporters::HttpEndpoint &)> &make) {
  httplib::Server server;
  std::atomic<size_t> bytes{0};
  server.Post(path, [&](const httplib::Request &req, httplib::Response &res) {
    bytes += req.body.size();
    res.status = 200;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  while (!server.is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto ep = exporters::parse_http_endpoint("http://127.0.0.1:" + std::to_string(port), path);
  std::vector<core::Span> spans;
  spans.reserve(n);
  for (size_t i = 0; i < n; i++) {
    spans.push_back(make_span(i));
  }
  const double s = best_seconds(reps, [&] {
    auto sink = make(ep);
    for (const auto &span : spans) {
      sink->on_span(span);
    }
    sink->close();
  });
  server.stop();
  t.join();
  return static_cast<double>(n) / s;
}

// Resident set size of this process, in KiB (VmRSS).
long rss_kib() {
  std::FILE *f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) {
    return -1;
  }
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      kib = std::strtol(line + 6, nullptr, 10);
    }
  }
  std::fclose(f);
  return kib;
}

// A loopback port; with `listen`, a socket that listens and never accepts
// (a black hole: connections complete, requests are never answered) is
// returned in *fd, else nothing listens on it (connections are refused).
int dead_port(bool listen, int *fd) {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(s, reinterpret_cast<sockaddr *>(&a), len) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr *>(&a), &len) != 0 ||
      (listen && ::listen(s, 1) != 0)) {
    std::perror("dead_port");
    std::exit(1);
  }
  if (listen) {
    *fd = s;
  } else {
    close(s);
  }
  return ntohs(a.sin_port);
}

// A flood of `rate` spans/s for `seconds` into an OTLP and a Zipkin sink
// whose collector is dead (refusing, or a black hole): what memory does it
// take, and how long does the exit's final flush then take? Spans are
// offered in slices of 1 ms; RSS is sampled every 50 ms.
void flood_dead_collector(double seconds, double rate, bool black_hole) {
  int hole = -1;
  const int port = dead_port(black_hole, &hole);
  const std::string dead = "http://127.0.0.1:" + std::to_string(port);
  std::vector<core::Span> pool;
  for (uint64_t i = 0; i < 4096; i++) {
    pool.push_back(make_span(i));
  }
  const long before = rss_kib();
  exporters::OtlpOptions oo;
  oo.endpoint = exporters::parse_http_endpoint(dead, "/v1/traces");
  oo.resource = {{"service.name", std::string("demo")}};
  exporters::ZipkinOptions zo;
  zo.endpoint = exporters::parse_http_endpoint(dead, "/api/v2/spans");
  zo.service = "demo";
  auto otlp = std::make_unique<exporters::OtlpSink>(oo);
  auto zipkin = std::make_unique<exporters::ZipkinSink>(zo);

  std::atomic<bool> done{false};
  std::atomic<long> peak{0};
  std::vector<long> per_second;
  std::thread sampler([&] {
    const auto t0 = Clock::now();
    auto next_mark = t0 + std::chrono::seconds(1);
    while (!done) {
      const long r = rss_kib();
      peak = std::max(peak.load(), r);
      if (Clock::now() >= next_mark) {
        per_second.push_back(r);
        next_mark += std::chrono::seconds(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration<double>(seconds);
  const auto per_ms = static_cast<uint64_t>(rate / 1000);
  uint64_t offered = 0;
  auto slice = t0;
  while (Clock::now() < end) {
    for (uint64_t k = 0; k < per_ms; k++) {
      const core::Span &s = pool[offered++ % pool.size()];
      otlp->on_span(s);
      zipkin->on_span(s);
    }
    slice += std::chrono::milliseconds(1);
    std::this_thread::sleep_until(slice);
  }
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  done = true;
  sampler.join();
  const auto os = otlp->stats();
  const auto zs = zipkin->stats();
  const auto c0 = Clock::now();
  std::thread closer([&] { zipkin->close(); }); // in parallel, as kernspan does
  otlp->close();
  closer.join();
  const double close_ms = std::chrono::duration<double, std::milli>(Clock::now() - c0).count();
  if (hole >= 0) {
    close(hole);
  }
  std::printf("dead collector (%s) flood, OTLP + Zipkin sinks (default options: queue %zu):\n",
              black_hole ? "black hole: listens, never answers" : "refuses connections",
              oo.max_queue);
  row("offered to each sink", static_cast<double>(offered) / took);
  std::printf("  %-44s %12ld KiB\n", "RSS before the sinks", before);
  std::printf("  %-44s %12ld KiB\n", "peak RSS during the flood", peak.load());
  std::string marks;
  for (const long r : per_second) {
    marks += ' '; // not `" " + std::to_string(..)`: GCC 12 -O3 -Wrestrict (GCC bug 105329)
    marks += std::to_string(r / 1024);
  }
  std::printf("  %-44s %s\n", "RSS at each second, MiB:", marks.c_str());
  std::printf("  %-44s %zu / %zu\n", "queue peak, OTLP / Zipkin", os.max_queued, zs.max_queued);
  std::printf("  %-44s %12.0f ms\n", "close (final flush, export timeout 1 s)", close_ms);
  std::printf("  %-44s %llu / %llu\n", "queue_full drops, OTLP / Zipkin",
              static_cast<unsigned long long>(os.queue_full),
              static_cast<unsigned long long>(zs.queue_full));
}

} // namespace

int main(int argc, char **argv) {
  int reps = 5;
  size_t n = 200'000;
  double flood_seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reps") == 0) {
      reps = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--spans") == 0) {
      n = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--flood-seconds") == 0) {
      flood_seconds = std::atof(argv[i + 1]);
    }
  }
  if (argc > 1 && std::strcmp(argv[argc - 1], "--flood-only") == 0) {
    // Alone, so the RSS figures are the sinks' and not what the other
    // sections left on the heap.
    flood_dead_collector(flood_seconds, 1e6, false);
    flood_dead_collector(flood_seconds, 1e6, true);
    return 0;
  }
  std::vector<core::Span> spans;
  spans.reserve(n);
  for (size_t i = 0; i < n; i++) {
    spans.push_back(make_span(i));
  }
  const exporters::Attributes resource = {{"service.name", std::string("demo")},
                                          {"process.pid", int64_t{4242}}};
  constexpr size_t kBatch = 512;
  const auto batched = [&](const std::function<size_t(const std::vector<core::Span> &)> &enc) {
    return static_cast<double>(n) / best_seconds(reps, [&] {
             size_t bytes = 0;
             for (size_t at = 0; at < n; at += kBatch) {
               const std::vector<core::Span> b(
                   spans.begin() + static_cast<std::ptrdiff_t>(at),
                   spans.begin() + static_cast<std::ptrdiff_t>(std::min(n, at + kBatch)));
               bytes += enc(b);
             }
             if (bytes == 0) {
               std::abort();
             }
           });
  };
  std::printf("kernspan exporters: %zu spans, best of %d, batches of %zu\n", n, reps, kBatch);
  std::printf("encode (one thread):\n");
  row("OTLP protobuf", batched([&](const auto &b) {
        return exporters::encode_otlp(b, resource, exporters::OtlpEncoding::kProtobuf).size();
      }));
  row("OTLP JSON", batched([&](const auto &b) {
        return exporters::encode_otlp(b, resource, exporters::OtlpEncoding::kJson).size();
      }));
  row("Zipkin v2 JSON",
      batched([&](const auto &b) { return exporters::encode_zipkin(b, "demo").size(); }));
  const auto per_span = [&](const std::function<void(std::string &, const core::Span &)> &fn) {
    std::string out;
    return static_cast<double>(n) / best_seconds(reps, [&] {
             for (const auto &s : spans) {
               out.clear();
               fn(out, s);
             }
           });
  };
  row("JSON Lines", per_span([](std::string &o, const core::Span &s) {
        exporters::JsonlSink::append_line(o, s);
      }));
  exporters::ChromeTraceSink::Names names;
  bool first = true;
  row("Chrome trace events", per_span([&](std::string &o, const core::Span &s) {
        exporters::ChromeTraceSink::append_events(o, s, "demo", names, first);
      }));
  row("InfluxDB line protocol", per_span([](std::string &o, const core::Span &s) {
        exporters::InfluxSink::append_line(o, s, "demo");
      }));

  const size_t sent = std::min<size_t>(n, 100'000);
  std::printf("delivered to a local receiver (%zu spans, sink queue sized to hold them):\n", sent);
  for (const auto encoding : {exporters::OtlpEncoding::kProtobuf, exporters::OtlpEncoding::kJson}) {
    row(encoding == exporters::OtlpEncoding::kProtobuf ? "OTLP/HTTP protobuf" : "OTLP/HTTP JSON",
        delivered_per_second("/v1/traces", reps, sent, [&](const exporters::HttpEndpoint &ep) {
          exporters::OtlpOptions o;
          o.endpoint = ep;
          o.encoding = encoding;
          o.resource = resource;
          o.max_queue = sent;
          o.shutdown_deadline = std::chrono::seconds(60);
          return std::make_unique<exporters::OtlpSink>(o);
        }));
  }
  row("Zipkin v2",
      delivered_per_second("/api/v2/spans", reps, sent, [&](const exporters::HttpEndpoint &ep) {
        exporters::ZipkinOptions o;
        o.endpoint = ep;
        o.service = "demo";
        o.max_queue = sent;
        o.shutdown_deadline = std::chrono::seconds(60);
        return std::make_unique<exporters::ZipkinSink>(o);
      }));

  // /metrics: each span name is a histogram of 20 bucket series plus _sum
  // and _count; 455 names make ~10k series, 10k names ~220k.
  for (const uint64_t count : {uint64_t{455}, uint64_t{10'000}}) {
    exporters::PrometheusSink prom({"demo", count});
    for (uint64_t i = 0; i < count; i++) {
      auto s = make_span(i);
      s.name = "span_" + std::to_string(i);
      prom.on_span(s);
    }
    size_t size = 0;
    const double text = best_seconds(
        reps, [&] { size = prom.render(exporters::ExpositionFormat::kText004).size(); });
    const double om = best_seconds(
        reps, [&] { size = prom.render(exporters::ExpositionFormat::kOpenMetrics100).size(); });
    std::printf("/metrics with %llu span names (%zu bytes in OpenMetrics):\n",
                static_cast<unsigned long long>(count), size);
    std::printf("  %-44s %12.2f ms\n", "render, text 0.0.4", text * 1e3);
    std::printf("  %-44s %12.2f ms\n", "render, OpenMetrics with exemplars", om * 1e3);
  }
  return 0;
}
