// SPDX-License-Identifier: Apache-2.0
// -o FILE --format otlp-json|chrome|influx on a real trace of the demo
// service: every span the app made is in the file, and independent readers
// accept it (the OpenTelemetry JS decoder, node's JSON.parse).
#include "harness.hpp"

#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace kernspan::itest {
namespace {

using nlohmann::json;

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

struct Capture { // NOLINT(bugprone-exception-escape): test data
  int ks_status = -1;
  std::string file;
  std::string ks_err;
  json report;
};

// The demo serves `requests` once kernspan is attached; kernspan writes
// FILE in `format` and exits with the demo.
Capture capture(const std::string &format, int requests) {
  Capture c;
  const std::string report = temp_path("report.json");
  c.file = temp_path("spans." + format);
  Proc demo = spawn({DEMO_BIN, "--wait-for-tracer", "--report", report, "--requests",
                     std::to_string(requests), "--rate", "1000", "--linger-ms", "50"});
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q", "-o", c.file,
                   "--format", format, "--service", "demo"});
  EXPECT_EQ(wait_exit(demo, 60000), 0);
  c.ks_status = wait_exit(ks, 10000);
  c.ks_err = slurp(ks.err_path);
  c.report = read_json(report);
  return c;
}

void expect_counts(const std::map<std::string, size_t> &got, const json &report) {
  ASSERT_TRUE(report.is_object());
  ASSERT_EQ(got.size(), report["spans"].size());
  for (const auto &[name, st] : report["spans"].items()) {
    EXPECT_EQ(got.at(name), st["count"].get<size_t>()) << name;
  }
}

// stdout of `node ARGS...`, which must exit 0.
std::string node(const std::vector<std::string> &args) {
  std::vector<std::string> argv = {"/usr/bin/env", "node"};
  argv.insert(argv.end(), args.begin(), args.end());
  const Result r = run(argv, 60000);
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out;
}

TEST(Files, OtlpJsonLinesDecodeWithOpenTelemetryJs) {
  KS_REQUIRE_ROOT();
  const Capture c = capture("otlp-json", 200);
  ASSERT_EQ(c.ks_status, 0) << c.ks_err;
  std::map<std::string, size_t> counts;
  const auto lines = lines_of(slurp(c.file));
  ASSERT_FALSE(lines.empty());
  for (size_t i = 0; i < lines.size(); i++) {
    const std::string one = temp_path("line.json");
    std::ofstream(one) << lines[i];
    const json req = json::parse(node({OTLP_DECODER_DIR "/decode.js", "json", one}));
    ASSERT_EQ(req["resourceSpans"].size(), 1u);
    const json &rs = req["resourceSpans"][0];
    bool has_service = false;
    for (const auto &kv : rs["resource"]["attributes"]) {
      has_service =
          has_service || (kv["key"] == "service.name" && kv["value"]["stringValue"] == "demo");
    }
    EXPECT_TRUE(has_service) << rs["resource"].dump();
    for (const auto &s : rs["scopeSpans"][0]["spans"]) {
      counts[s["name"]]++;
    }
  }
  expect_counts(counts, c.report);
}

TEST(Files, ChromeTraceParsesAndNestsPerThread) {
  KS_REQUIRE_ROOT();
  const Capture c = capture("chrome", 200);
  ASSERT_EQ(c.ks_status, 0) << c.ks_err;
  const json summary = json::parse(node({CHECKS_DIR "/chrome_trace.js", c.file}));
  std::map<std::string, size_t> counts;
  for (const auto &s : summary["spans"]) {
    counts[s["name"]]++;
    EXPECT_EQ(s["pid"], c.report["pid"]);
  }
  expect_counts(counts, c.report);
  // parse, query, query.read and render nest inside a request
  EXPECT_EQ(summary["nested"].get<size_t>(), summary["spans"].size() - 200);
  EXPECT_EQ(summary["processes"], 1);
}

TEST(Files, ChromeTraceIsValidJsonWhenInterrupted) {
  KS_REQUIRE_ROOT();
  const std::string file = temp_path("interrupted.json");
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "300"});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q", "-o", file,
                   "--format", "chrome"});
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "attached", 10000)) << slurp(ks.err_path);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(ks.pid, SIGINT);
  EXPECT_EQ(wait_exit(ks, 5000), 0) << slurp(ks.err_path);
  kill(demo.pid, SIGTERM);
  EXPECT_EQ(wait_exit(demo, 5000), 0);
  const json summary = json::parse(node({CHECKS_DIR "/chrome_trace.js", file}));
  EXPECT_GT(summary["spans"].size(), 0u);
}

TEST(Files, InfluxHasOnePointPerSpan) {
  KS_REQUIRE_ROOT();
  const Capture c = capture("influx", 100);
  ASSERT_EQ(c.ks_status, 0) << c.ks_err;
  std::map<std::string, size_t> counts;
  for (const auto &line : lines_of(slurp(c.file))) {
    // kernspan_span,service=demo,span_name=NAME,thread=T fields TIMESTAMP
    ASSERT_EQ(line.rfind("kernspan_span,service=demo,span_name=", 0), 0u) << line;
    const size_t name_at = line.find("span_name=") + 10;
    counts[line.substr(name_at, line.find(',', name_at) - name_at)]++;
    EXPECT_NE(line.find(" duration_ns="), std::string::npos) << line;
    const std::string ts = line.substr(line.rfind(' ') + 1);
    EXPECT_EQ(ts.size(), 19u) << line;
    EXPECT_EQ(ts.find_first_not_of("0123456789"), std::string::npos) << line;
  }
  expect_counts(counts, c.report);
}

TEST(Files, BadFormatOrUnwritableFileIsOneLineError) {
  KS_REQUIRE_ROOT();
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "10"});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string pid = std::to_string(demo.pid);
  const auto bad = run({KERNSPAN_BIN, "trace", "-p", pid, "-o", "/tmp/x", "--format", "xml"});
  const auto alone = run({KERNSPAN_BIN, "trace", "-p", pid, "--format", "chrome"});
  const auto unwritable = run(
      {KERNSPAN_BIN, "trace", "-p", pid, "-o", "/nonexistent-dir/t.json", "--format", "chrome"});
  kill(demo.pid, SIGTERM);
  wait_exit(demo, 5000);
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err, "kernspan: error: --format: xml not in {jsonl,otlp-json,chrome,influx} (see "
                     "kernspan --help)\n");
  EXPECT_EQ(alone.status, 2);
  EXPECT_EQ(alone.err, "kernspan: error: --format requires --output (see kernspan --help)\n");
  EXPECT_EQ(unwritable.status, 1);
  EXPECT_EQ(unwritable.err, "kernspan: error: chrome: cannot open '/nonexistent-dir/t.json' for "
                            "writing: No such file or directory\n");
}

} // namespace
} // namespace kernspan::itest
