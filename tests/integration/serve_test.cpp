// SPDX-License-Identifier: Apache-2.0
// kernspan serve: the trace pipeline as a daemon configured by a file. It
// finds its target by binary path (YAML) or PID (JSON), serves /metrics
// while the target works, writes the configured file, and stops cleanly on
// SIGTERM; a bad configuration is a one-line error.
#include "harness.hpp"
#include "net.hpp"

#include <csignal>
#include <fstream>
#include <httplib.h>
#include <map>
#include <sstream>
#include <thread>

namespace kernspan::itest {
namespace {

using namespace std::chrono_literals;

// The handle_request count in a /metrics scrape; 0 if absent.
unsigned long requests_seen(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  const auto res = c.Get("/metrics");
  if (!res || res->status != 200) {
    return 0;
  }
  std::istringstream in(res->body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("kernspan_span_duration_seconds_count{service_name=\"shop\","
                   "span_name=\"handle_request\"}",
                   0) == 0) {
      return std::stoul(line.substr(line.rfind(' ') + 1));
    }
  }
  return 0;
}

void serve_and_scrape(const std::string &config_text, const std::string &ext, Proc &demo,
                      const std::string &spans) {
  const std::string config = temp_path("serve." + ext);
  std::ofstream(config) << config_text;
  Proc ks = spawn({KERNSPAN_BIN, "serve", "--config", config});
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "attached", 10000)) << slurp(ks.err_path);
  const std::string err = slurp(ks.err_path);
  EXPECT_NE(err.find(std::to_string(demo.pid) + " (demo_service)"), std::string::npos) << err;
  const int port = served_port(err);
  ASSERT_GT(port, 0) << err;
  unsigned long seen = 0;
  for (int i = 0; i < 200 && seen == 0; i++) { // bounded wait, no timing claim
    std::this_thread::sleep_for(50ms);
    seen = requests_seen(port);
  }
  EXPECT_GT(seen, 0u) << "no requests in /metrics";
  kill(ks.pid, SIGTERM);
  EXPECT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  EXPECT_NE(slurp(ks.err_path).find("stopped (interrupted)"), std::string::npos);
  EXPECT_NE(slurp(ks.out_path).find("handle_request"), std::string::npos) << "summary printed";
  const auto lines = read_jsonl(spans);
  EXPECT_GE(lines.size(), seen) << "the file sink ran too";
}

TEST(Serve, YamlConfigByBinaryPathServesMetrics) {
  KS_REQUIRE_ROOT();
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "200"});
  std::this_thread::sleep_for(100ms);
  const std::string spans = temp_path("serve.jsonl");
  serve_and_scrape(std::string("# kernspan serve test\nservice: shop\ntargets:\n  - binary: ") +
                       DEMO_BIN + "\nsinks:\n  prometheus: 127.0.0.1:0\n  output: " + spans +
                       "\n  format: jsonl\n",
                   "yaml", demo, spans);
  kill(demo.pid, SIGTERM);
  EXPECT_EQ(wait_exit(demo, 5000), 0);
}

TEST(Serve, JsonConfigByPid) {
  KS_REQUIRE_ROOT();
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "200"});
  std::this_thread::sleep_for(100ms);
  const std::string spans = temp_path("serve-json.jsonl");
  serve_and_scrape(R"({"service": "shop", "targets": [{"pid": )" + std::to_string(demo.pid) +
                       R"(}], "sinks": {"prometheus": "127.0.0.1:0", "output": ")" + spans +
                       R"("}})",
                   "json", demo, spans);
  kill(demo.pid, SIGTERM);
  EXPECT_EQ(wait_exit(demo, 5000), 0);
}

// SIGHUP (a daemon's "reload") neither kills serve nor cuts the file: it is
// said to be ignored, and a later SIGTERM ends the run cleanly.
TEST(Serve, SighupKeepsRunningAndSigtermLeavesWholeLines) {
  KS_REQUIRE_ROOT();
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "2000"});
  std::this_thread::sleep_for(100ms);
  const std::string spans = temp_path("serve-hup.jsonl");
  const std::string config = temp_path("serve-hup.yaml");
  std::ofstream(config) << "targets:\n  - pid: " << demo.pid << "\nsinks:\n  output: " << spans
                        << "\n";
  Proc ks = spawn({KERNSPAN_BIN, "serve", "--config", config});
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "attached", 10000)) << slurp(ks.err_path);
  std::this_thread::sleep_for(300ms);
  kill(ks.pid, SIGHUP);
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "ignoring SIGHUP", 5000)) << slurp(ks.err_path);
  std::this_thread::sleep_for(300ms);
  kill(ks.pid, SIGTERM);
  EXPECT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  kill(demo.pid, SIGTERM);
  EXPECT_EQ(wait_exit(demo, 5000), 0);
  EXPECT_NE(slurp(ks.err_path).find("stopped (interrupted)"), std::string::npos)
      << slurp(ks.err_path);
  EXPECT_NE(slurp(ks.out_path).find("handle_request"), std::string::npos) << "summary printed";
  const std::string text = slurp(spans);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::istringstream in(text);
  size_t n = 0;
  for (std::string line; std::getline(in, line); n++) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << "line " << n << ": " << line;
  }
  EXPECT_GT(n, 0u);
}

// No root needed: the configuration is read before anything else.
TEST(Serve, BadConfigIsOneLineError) {
  const auto bad = [](const std::string &text) {
    const std::string config = temp_path("bad.yaml");
    std::ofstream(config) << text;
    return run({KERNSPAN_BIN, "serve", "--config", config});
  };
  const auto typo = bad("targets: [{pid: 1}]\nsinks:\n  prometheus: '9464'\n  zipkn: x\n");
  EXPECT_EQ(typo.status, 1);
  EXPECT_NE(typo.err.find(": line 4: unknown key 'zipkn' in sinks"), std::string::npos) << typo.err;
  EXPECT_EQ(std::count(typo.err.begin(), typo.err.end(), '\n'), 1) << typo.err;

  const auto broken = bad("targets: [\n");
  EXPECT_EQ(broken.status, 1);
  EXPECT_EQ(broken.err.rfind("kernspan: error: ", 0), 0u) << broken.err;

  const auto nobody = bad("targets: [{binary: /bin/true}]\nsinks: {prometheus: '0'}\n");
  EXPECT_EQ(nobody.status, 1);
  EXPECT_EQ(nobody.err, "kernspan: error: no running process executes /bin/true (serve attaches "
                        "to the processes running it when it starts)\n");

  const auto url = bad("targets: [{pid: 1}]\nsinks: {zipkin: 'localhost:9411'}\n");
  EXPECT_EQ(url.status, 1);
  EXPECT_EQ(url.err, "kernspan: error: bad URL 'localhost:9411': expected "
                     "http://HOST[:PORT][/PATH]\n");

  const auto missing = run({KERNSPAN_BIN, "serve", "--config", "/nonexistent/k.yaml"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err, "kernspan: error: --config /nonexistent/k.yaml: no such file (see "
                         "kernspan serve --help for an example)\n");

  const auto dir = run({KERNSPAN_BIN, "serve", "--config", "/tmp"});
  EXPECT_EQ(dir.status, 1);
  EXPECT_EQ(dir.err, "kernspan: error: --config /tmp: is a directory; give the configuration file "
                     "(YAML or JSON)\n");

  const auto toml = run({KERNSPAN_BIN, "serve", "--config", "/etc/kernspan.toml"});
  EXPECT_EQ(toml.status, 1);
  EXPECT_EQ(toml.err, "kernspan: error: /etc/kernspan.toml: TOML is not supported; write the "
                      "configuration as YAML (.yaml/.yml) or JSON (.json)\n");

  const auto spec = bad("targets: [{pid: 1}]\nprobes:\n  uprobe: [libc]\nsinks: {prometheus: "
                        "'0'}\n");
  EXPECT_EQ(spec.status, 1);
  EXPECT_EQ(spec.err.rfind("kernspan: error: ", 0), 0u) << spec.err;
  EXPECT_NE(spec.err.find(": line 3: bad --uprobe spec 'libc'"), std::string::npos) << spec.err;
  EXPECT_EQ(std::count(spec.err.begin(), spec.err.end(), '\n'), 1) << spec.err;
}

// Probes from the configuration: function uprobes on a program without
// kernspan markers, without costs; every call is one span, exactly.
TEST(Serve, ConfigProbesTraceFunctionsWithExactCounts) {
  KS_REQUIRE_ROOT();
  const std::string report = temp_path("serve-fn-report.json");
  const std::string spans = temp_path("serve-fn.jsonl");
  const std::string config = temp_path("serve-fn.yaml");
  const ReadyRun r =
      trace_ready({UPROBES_BIN, "--report", report, "--calls", "300"}, [&](pid_t pid) {
        std::ofstream(config) << "targets:\n  - pid: " << pid
                              << "\nprobes:\n"
                                 "  uprobe:\n"
                                 "    - 'testprog_uprobes:app_add,args=2'\n"
                                 "    - 'libksfn:fnlib_square'\n"
                                 "  costs: false\n"
                                 "sinks:\n  output: "
                              << spans << "\n";
        return std::vector<std::string>{"serve", "--config", config};
      });
  ASSERT_TRUE(r.attached) << r.ks_err;
  ASSERT_EQ(r.prog_status, 0);
  ASSERT_EQ(r.ks_status, 0) << r.ks_err; // stops when its target exits
  const auto rep = nlohmann::json::parse(slurp(report));
  std::map<std::string, size_t> counts;
  for (const auto &s : read_jsonl(spans)) {
    counts[s["name"].get<std::string>()]++;
    EXPECT_FALSE(s.contains("costs")) << s.dump();
    if (s["name"] == "app_add") {
      EXPECT_EQ(s["attributes"]["arg1"], 1) << s.dump();
    }
  }
  EXPECT_EQ(counts, (std::map<std::string, size_t>{{"app_add", 300}, {"fnlib_square", 300}}));
  EXPECT_EQ(rep["app_add"], 300);
  EXPECT_EQ(rep["fnlib_square"], 300);
  EXPECT_NE(r.ks_out.find("app_add"), std::string::npos) << "summary printed";
}

// mode: stats from the configuration: counts kept in the kernel, exact.
TEST(Serve, ConfigStatsModeCountsExactly) {
  KS_REQUIRE_ROOT();
  const std::string report = temp_path("serve-stats-report.json");
  const std::string config = temp_path("serve-stats.yaml");
  const ReadyRun r =
      trace_ready({UPROBES_BIN, "--report", report, "--calls", "300"}, [&](pid_t pid) {
        std::ofstream(config) << "targets:\n  - pid: " << pid
                              << "\nmode: stats\n"
                                 "probes:\n"
                                 "  uprobe: ['testprog_uprobes:app_add', 'libksfn:fnlib_square']\n"
                                 "sinks:\n  prometheus: '127.0.0.1:0'\n";
        return std::vector<std::string>{"serve", "--config", config};
      });
  ASSERT_TRUE(r.attached) << r.ks_err;
  ASSERT_EQ(r.prog_status, 0);
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  // stats mode sends no span records: the counts come from kernel maps
  EXPECT_NE(r.ks_err.find("after 0 records"), std::string::npos) << r.ks_err;
  const std::string summary = r.ks_out;
  for (const std::string name : {"app_add", "fnlib_square"}) {
    const auto pos = summary.find("\n" + name + " ");
    ASSERT_NE(pos, std::string::npos) << summary;
    const std::string line = summary.substr(pos + 1, summary.find('\n', pos + 1) - pos - 1);
    std::istringstream fields(line);
    std::string n;
    size_t count = 0;
    fields >> n >> count;
    EXPECT_EQ(count, 300u) << line;
  }
}

} // namespace
} // namespace kernspan::itest
