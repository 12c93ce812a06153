// SPDX-License-Identifier: Apache-2.0
// A real Prometheus server (Debian package prometheus) scrapes kernspan's
// /metrics while kernspan traces the demo service: the series arrive, the
// scrape is OpenMetrics (exemplars exist only there), and an exemplar's
// trace_id and span_id are a span kernspan wrote with -o.
#include "harness.hpp"
#include "net.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <httplib.h>
#include <map>
#include <sstream>
#include <thread>

namespace kernspan::itest {
namespace {

using nlohmann::json;
constexpr const char *kPrometheus = "/usr/bin/prometheus";

// GET a Prometheus API path; the parsed body, or null on any failure.
json api(int port, const std::string &path, const httplib::Params &params) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  const auto res = c.Get(path, params, httplib::Headers{});
  if (!res || res->status != 200) {
    return nullptr;
  }
  return json::parse(res->body, nullptr, false);
}

// The value of the first sample of `family` whose labels hold every one of
// `parts`; -1 when there is none.
double sample(const std::string &metrics, const std::string &family,
              const std::vector<std::string> &parts) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0) {
      continue;
    }
    bool all = true;
    for (const auto &p : parts) {
      all = all && line.find(p) != std::string::npos;
    }
    if (all) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return -1;
}

// /proc/PID/task/TID/schedstat: ns on CPU and ns waiting on a run queue.
std::pair<double, double> schedstat(pid_t pid, long tid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/schedstat");
  double oncpu = -1;
  double run_delay = -1;
  f >> oncpu >> run_delay;
  return {oncpu, run_delay};
}

// Kills what the test started even when an assertion returns early.
struct Reaper {
  std::vector<Proc *> procs;
  std::string dir;
  ~Reaper() {
    for (auto *p : procs) {
      if (p->pid > 0 && kill(p->pid, 0) == 0) {
        kill(p->pid, SIGKILL);
        wait_exit(*p, 2000);
      }
    }
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};

TEST(PrometheusServer, RealServerScrapesSeriesAndExemplars) {
  KS_REQUIRE_ROOT();
  if (access(kPrometheus, X_OK) != 0) {
    FAIL() << "prometheus is not installed (scripts/setup.sh installs it)";
  }
  Reaper reaper;
  const std::string spans_path = temp_path("prom-spans.jsonl");
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "200"});
  reaper.procs.push_back(&demo);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q", "-o", spans_path,
                   "--prometheus", "127.0.0.1:0", "--service", "demo"});
  reaper.procs.push_back(&ks);
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "attached", 10000)) << slurp(ks.err_path);
  const int metrics_port = served_port(slurp(ks.err_path));
  ASSERT_GT(metrics_port, 0) << slurp(ks.err_path);

  reaper.dir = temp_path("prometheus");
  std::filesystem::create_directories(reaper.dir + "/data");
  const std::string config = reaper.dir + "/prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        << "scrape_configs:\n  - job_name: kernspan\n    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << metrics_port << "']\n";
  const int prom_port = free_port();
  Proc prom =
      spawn({kPrometheus, "--config.file=" + config, "--storage.tsdb.path=" + reaper.dir + "/data",
             "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
             "--enable-feature=exemplar-storage"});
  reaper.procs.push_back(&prom);

  // The request histogram's count, once Prometheus has scraped it.
  const std::string count_query =
      R"(kernspan_span_duration_seconds_count{job="kernspan",span_name="handle_request"})";
  const std::string thread_query =
      R"(kernspan_thread_cpu_seconds_total{job="kernspan",service_name="demo"})";
  json series;
  json exemplars;
  json threads;
  const auto t0 = std::chrono::steady_clock::now();
  const auto start = std::to_string(std::time(nullptr) - 60);
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_EQ(kill(prom.pid, 0), 0) << "prometheus exited: " << slurp(prom.err_path);
    series = api(prom_port, "/api/v1/query", {{"query", count_query}});
    exemplars = api(prom_port, "/api/v1/query_exemplars",
                    {{"query", R"(kernspan_span_duration_seconds_bucket{job="kernspan"})"},
                     {"start", start},
                     {"end", std::to_string(std::time(nullptr) + 60)}});
    threads = api(prom_port, "/api/v1/query", {{"query", thread_query}});
    if (!series.is_null() && !series["data"]["result"].empty() && !exemplars.is_null() &&
        !exemplars["data"].empty() && !threads.is_null() && !threads["data"]["result"].empty()) {
      break;
    }
  }
  ASSERT_FALSE(series.is_null()) << slurp(prom.err_path);
  ASSERT_EQ(series["status"], "success") << series.dump();
  ASSERT_EQ(series["data"]["result"].size(), 1u) << series.dump();
  const json &metric = series["data"]["result"][0]["metric"];
  EXPECT_EQ(metric["service_name"], "demo");
  EXPECT_GT(std::stod(series["data"]["result"][0]["value"][1].get<std::string>()), 0);
  ASSERT_FALSE(exemplars.is_null());
  ASSERT_FALSE(exemplars["data"].empty()) << "no exemplars: was the scrape OpenMetrics?\n"
                                          << exemplars.dump();
  // The per-thread families: one series per thread of the demo (its main
  // thread at least), each scraped without error.
  ASSERT_FALSE(threads.is_null());
  ASSERT_FALSE(threads["data"]["result"].empty()) << threads.dump();
  bool main_thread = false;
  for (const auto &r : threads["data"]["result"]) {
    EXPECT_EQ(r["metric"]["pid"], std::to_string(demo.pid)) << r.dump();
    main_thread = main_thread || r["metric"]["tid"] == std::to_string(demo.pid);
  }
  EXPECT_TRUE(main_thread) << threads.dump();
  const json targets = api(prom_port, "/api/v1/targets", {});
  ASSERT_FALSE(targets.is_null());
  ASSERT_EQ(targets["data"]["activeTargets"].size(), 1u) << targets.dump();
  EXPECT_EQ(targets["data"]["activeTargets"][0]["health"], "up") << targets.dump();
  EXPECT_EQ(targets["data"]["activeTargets"][0]["lastError"], "") << targets.dump();

  // Stop tracing; every exemplar must name a span kernspan wrote.
  kill(ks.pid, SIGINT);
  ASSERT_EQ(wait_exit(ks, 5000), 0) << slurp(ks.err_path);
  std::map<std::string, std::string> trace_of; // span_id -> trace_id
  for (const auto &s : read_jsonl(spans_path)) {
    trace_of[s["span_id"]] = s["trace_id"];
  }
  ASSERT_FALSE(trace_of.empty());
  size_t checked = 0;
  for (const auto &group : exemplars["data"]) {
    EXPECT_EQ(group["seriesLabels"]["__name__"], "kernspan_span_duration_seconds_bucket");
    for (const auto &e : group["exemplars"]) {
      const std::string span_id = e["labels"]["span_id"];
      const std::string trace_id = e["labels"]["trace_id"];
      ASSERT_TRUE(trace_of.count(span_id)) << "exemplar for an unknown span: " << e.dump();
      EXPECT_EQ(trace_of[span_id], trace_id) << e.dump();
      // The exemplar's value lies within its bucket's le bound.
      const double le = group["seriesLabels"]["le"] == "+Inf"
                            ? 1e300
                            : std::stod(group["seriesLabels"]["le"].get<std::string>());
      EXPECT_LE(std::stod(e["value"].get<std::string>()), le) << e.dump();
      checked++;
    }
  }
  EXPECT_GT(checked, 0u);
  kill(prom.pid, SIGTERM);
  EXPECT_EQ(wait_exit(prom, 10000), 0) << slurp(prom.err_path);
  kill(demo.pid, SIGTERM);
  EXPECT_EQ(wait_exit(demo, 5000), 0);
}

// Per-thread CPU and run-queue seconds on /metrics agree with the kernel's
// schedstat over the same work: the workers of testprog_costs --top are
// blocked (idle) when schedstat is read before and after their work, so
// both bracket exactly that work; /metrics counts from attach, before it.
TEST(PrometheusThreads, ThreadSecondsAgreeWithSchedstat) {
  KS_REQUIRE_ROOT();
  Reaper reaper;
  Proc prog = spawn({COSTS_BIN, "--top"});
  reaper.procs.push_back(&prog);
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "ready", 10000));
  long tids[2] = {0, 0};
  std::istringstream(slurp(prog.out_path).substr(6)) >> tids[0] >> tids[1];
  ASSERT_GT(tids[0], 0);
  ASSERT_GT(tids[1], 0);
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid), "-q", "--prometheus",
                   "127.0.0.1:0", "--service", "costs"});
  reaper.procs.push_back(&ks);
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "attached", 10000)) << slurp(ks.err_path);
  const int port = served_port(slurp(ks.err_path));
  ASSERT_GT(port, 0);
  std::pair<double, double> before[2] = {schedstat(prog.pid, tids[0]),
                                         schedstat(prog.pid, tids[1])};
  kill(prog.pid, SIGUSR1);
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "done", 20000));
  std::pair<double, double> after[2] = {schedstat(prog.pid, tids[0]), schedstat(prog.pid, tids[1])};
  const std::string pid_label = "pid=\"" + std::to_string(prog.pid) + "\"";
  // Thread totals are read once a second: wait (bounded) for a reading
  // after the work, while the workers are idle again.
  std::string metrics;
  for (int i = 0; i < 100; i++) {
    metrics = scrape(port);
    bool both = true;
    for (int k = 0; k < 2; k++) {
      const double cpu = sample(metrics, "kernspan_thread_cpu_seconds_total",
                                {pid_label, "tid=\"" + std::to_string(tids[k]) + "\""});
      both = both && cpu * 1e9 >= (after[k].first - before[k].first) * 0.9;
    }
    if (both) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int k = 0; k < 2; k++) {
    const std::string tid = "tid=\"" + std::to_string(tids[k]) + "\"";
    const double oncpu = after[k].first - before[k].first;
    const double waited = after[k].second - before[k].second;
    EXPECT_GE(oncpu, 200e6);
    const double cpu = sample(metrics, "kernspan_thread_cpu_seconds_total", {pid_label, tid});
    EXPECT_NEAR(cpu * 1e9, oncpu, oncpu * 0.03 + 1e6) << metrics;
    const double runq = sample(metrics, "kernspan_thread_offcpu_seconds_total",
                               {pid_label, tid, "reason=\"runq\""});
    EXPECT_NEAR(runq * 1e9, waited, waited * 0.05 + 2e6) << metrics;
    // 16 reads of 64 KiB from /dev/zero, and the same written to /dev/null.
    EXPECT_GE(sample(metrics, "kernspan_thread_io_bytes_total", {tid, "direction=\"read\""}),
              1048576);
    EXPECT_GE(sample(metrics, "kernspan_thread_io_bytes_total", {tid, "direction=\"write\""}),
              1048576);
    EXPECT_GE(sample(metrics, "kernspan_thread_syscalls_total", {tid}), 32);
    EXPECT_GE(sample(metrics, "kernspan_thread_offcpu_seconds_total", {tid, "reason=\"sleep\""}),
              0);
  }
  EXPECT_NE(metrics.find("\nkernspan_thread_overflow_total 0\n"), std::string::npos);
  EXPECT_NE(metrics.find("\nkernspan_threads 3\n"), std::string::npos) << metrics;
  EXPECT_GE(sample(metrics, "kernspan_process_syscalls_total", {pid_label}), 64);
  EXPECT_GE(
      sample(metrics, "kernspan_process_offcpu_seconds_total", {pid_label, "reason=\"runq\""}), 0);
  FILE *p = popen("/usr/bin/promtool check metrics >/dev/null 2>&1", "w");
  ASSERT_NE(p, nullptr);
  std::fwrite(metrics.data(), 1, metrics.size(), p);
  EXPECT_EQ(pclose(p), 0) << metrics;
  kill(ks.pid, SIGINT);
  EXPECT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  kill(prog.pid, SIGTERM);
  EXPECT_EQ(wait_exit(prog, 10000), 0);
}

TEST(PrometheusServer, PortInUseFailsBeforeTracing) {
  KS_REQUIRE_ROOT();
  Reaper reaper;
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "100"});
  reaper.procs.push_back(&demo);
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr *>(&a), len), 0);
  ASSERT_EQ(listen(s, 1), 0);
  getsockname(s, reinterpret_cast<sockaddr *>(&a), &len);
  const std::string port = std::to_string(ntohs(a.sin_port));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto r =
      run({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q", "--prometheus", port});
  close(s);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "kernspan: error: cannot listen on 127.0.0.1:" + port + ": Address already in use\n");
  EXPECT_EQ(r.err.find("attached"), std::string::npos);
  for (const std::string bad : {"1.2.3:x", "70000", "[::1"}) {
    const auto b =
        run({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q", "--prometheus", bad});
    EXPECT_EQ(b.status, 1) << bad;
    EXPECT_EQ(b.err.rfind("kernspan: error: bad listen address '" + bad + "'", 0), 0u) << b.err;
  }
  kill(demo.pid, SIGTERM);
  EXPECT_EQ(wait_exit(demo, 5000), 0);
}

} // namespace
} // namespace kernspan::itest
