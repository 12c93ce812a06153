// SPDX-License-Identifier: Apache-2.0
// The three modes end to end: stats mode's in-kernel histograms
// count exactly what the programs count themselves, sample mode keeps or
// drops whole traces, --min-duration and --max-spans-per-second leave out
// what they should and say how much.
#include "harness.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <map>
#include <set>
#include <sstream>

namespace kernspan::itest {
namespace {

using nlohmann::json;

// The summary table's rows: name -> cells after the name (count, p50, p90,
// p99, max, incomplete, costs...). Names may hold spaces ("f(int) const"),
// so cells are counted from the right, by the header's width.
std::map<std::string, std::vector<std::string>> summary_rows(const std::string &out) {
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream in(out);
  std::string line;
  size_t columns = 0;
  while (std::getline(in, line)) {
    std::istringstream cells(line);
    std::vector<std::string> c;
    for (std::string x; cells >> x;) {
      c.push_back(x);
    }
    if (c.empty()) {
      continue;
    }
    if (c[0] == "name" && c.size() > 1 && c[1] == "count") {
      columns = c.size() - 1;
      continue;
    }
    if (columns == 0 || c[0] == "drops:" || c[0].starts_with("(") || c.size() <= columns) {
      if (c[0] == "drops:") {
        columns = 0;
      }
      continue;
    }
    std::string name = c[0];
    for (size_t i = 1; i + columns < c.size(); i++) {
      name += " " + c[i];
    }
    rows[name] = std::vector<std::string>(c.end() - static_cast<long>(columns), c.end());
  }
  return rows;
}

uint64_t count_of(const std::map<std::string, std::vector<std::string>> &rows,
                  const std::string &name) {
  auto it = rows.find(name);
  return it == rows.end() ? 0 : std::stoull(it->second.at(0));
}

// The number after `prefix` in the summary, or -1.
long long number_after(const std::string &out, const std::string &prefix) {
  const size_t p = out.find(prefix);
  return p == std::string::npos ? -1 : std::atoll(out.c_str() + p + prefix.size());
}

std::string drops_line(const std::string &out) {
  const auto pos = out.find("drops:");
  return pos == std::string::npos ? "" : out.substr(pos, out.find('\n', pos) - pos);
}

bool no_drops(const std::string &out) {
  return drops_line(out).find("(total 0)") != std::string::npos;
}

TEST(Modes, StatsModeRefusesSinksThatNeedSpans) {
  const std::string pid = std::to_string(getpid());
  for (const auto &flags :
       std::vector<std::vector<std::string>>{{"-o", temp_path("x.jsonl")},
                                             {"--otlp", "http://127.0.0.1:4318"},
                                             {"--zipkin", "http://127.0.0.1:9411"},
                                             {"--max-spans-per-second", "10"}}) {
    std::vector<std::string> argv = {KERNSPAN_BIN, "trace", "-p", pid, "--mode", "stats"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const Result r = run(argv);
    EXPECT_NE(r.status, 0) << flags[0];
    EXPECT_NE(r.err.find("--mode stats does not produce"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  for (const auto &[flags, what] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--mode", "sample"}, "needs --sample-rate"},
           {{"--mode", "sample", "--sample-rate", "1.5"}, "must be in (0, 1]"},
           {{"--mode", "sample", "--sample-rate", "0"}, "needs --sample-rate"},
           {{"--sample-rate", "0.5"}, "needs --mode sample"},
           {{"--min-duration", "5 parsecs"}, "invalid --min-duration"},
           {{"--min-duration", "1.5"}, "invalid --min-duration"}}) {
    std::vector<std::string> argv = {KERNSPAN_BIN, "trace", "-p", pid};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const Result r = run(argv);
    EXPECT_NE(r.status, 0) << what;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  }
}

struct FnStats { // NOLINT(bugprone-exception-escape): test data
  int prog_status = -1;
  int ks_status = -1;
  json report;
  std::string ks_out;
  std::string ks_err;
};

// testprog_uprobes under `kernspan trace --mode stats` with `ks_args`.
FnStats stats_of_functions(const std::vector<std::string> &ks_args, long calls) {
  const std::string report = temp_path("modes-report.json");
  std::vector<std::string> ks = {"-q", "--mode", "stats"};
  ks.insert(ks.end(), ks_args.begin(), ks_args.end());
  const ReadyRun t =
      trace_ready({UPROBES_BIN, "--report", report, "--calls", std::to_string(calls)}, ks);
  FnStats r{t.prog_status, t.ks_status, {}, t.ks_out, t.ks_err};
  if (!t.attached) {
    return r;
  }
  r.report = read_json(report);
  return r;
}

TEST(Modes, StatsModeCountsFunctionCallsExactly) {
  KS_REQUIRE_ROOT();
  const FnStats r =
      stats_of_functions({"--uprobe", "testprog_uprobes:app_add", "--uprobe",
                          "libksfn:fnlib_square", "--uprobe", "testprog_uprobes:shop::Cache::*"},
                         3000);
  ASSERT_EQ(r.prog_status, 0) << r.ks_err;
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  const auto rows = summary_rows(r.ks_out);
  ASSERT_EQ(rows.size(), 3u) << r.ks_out;
  EXPECT_EQ(count_of(rows, "app_add"), r.report["app_add"].get<uint64_t>()) << r.ks_out;
  EXPECT_EQ(count_of(rows, "fnlib_square"), r.report["fnlib_square"].get<uint64_t>()) << r.ks_out;
  EXPECT_EQ(count_of(rows, "shop::Cache::lookup(int) const"), r.report["lookup"].get<uint64_t>())
      << r.ks_out;
  EXPECT_EQ(r.report["app_add"].get<uint64_t>(), 3000u);
  // No span records at all: the kernel kept the histograms.
  EXPECT_NE(r.ks_err.find("after 0 records"), std::string::npos) << r.ks_err;
  EXPECT_TRUE(no_drops(r.ks_out)) << r.ks_out;
  EXPECT_NE(r.ks_out.find("spans: 15000 total, 0 incomplete"), std::string::npos) << r.ks_out;
  for (const auto &[name, c] : rows) {
    EXPECT_NE(c.at(1), "0ns") << name << ": p50 of real calls";
  }
}

TEST(Modes, StatsModeCountsOwnSpansExactly) {
  KS_REQUIRE_ROOT();
  const std::string report = temp_path("modes-demo.json");
  Proc demo = spawn({DEMO_BIN, "--wait-for-tracer", "--report", report, "--requests", "1500",
                     "--threads", "2", "--linger-ms", "1000"});
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "--mode", "stats", "-q"});
  ASSERT_EQ(wait_exit(demo, 60000), 0) << slurp(demo.err_path);
  ASSERT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  const std::string out = slurp(ks.out_path);
  const json rep = json::parse(slurp(report));
  const auto rows = summary_rows(out);
  ASSERT_EQ(rows.size(), rep["spans"].size()) << out;
  for (const auto &[name, st] : rep["spans"].items()) {
    EXPECT_EQ(count_of(rows, name), st["count"].get<uint64_t>()) << name << "\n" << out;
  }
  EXPECT_EQ(count_of(rows, "handle_request"), 1500u);
  EXPECT_NE(slurp(ks.err_path).find("after 0 records"), std::string::npos);
  EXPECT_TRUE(no_drops(out)) << out;
  // Costs come through the aggregates too: render reads and writes a
  // socket (the column is present and non-zero for it).
  EXPECT_EQ(rows.at("render").size(), 14u) << out;
}

// A program that prints "ready" and waits for SIGUSR1, under kernspan
// --mode stats with `ks_args`: kernspan's stdout, or "" on failure.
std::string stats_of_ready(const std::vector<std::string> &argv,
                           const std::vector<std::string> &ks_args) {
  std::vector<std::string> ks = {"-q", "--mode", "stats"};
  ks.insert(ks.end(), ks_args.begin(), ks_args.end());
  const ReadyRun t = trace_ready(argv, ks);
  if (!t.attached) {
    ADD_FAILURE() << "kernspan did not attach: " << t.ks_err;
    return "";
  }
  EXPECT_EQ(t.prog_status, 0);
  EXPECT_EQ(t.ks_status, 0) << t.ks_err;
  return t.ks_out;
}

// Stats mode names kernspan's own spans from the kernel too: a 300-byte
// name is kept up to --max-string and cut visibly, never silently.
TEST(Modes, StatsModeKeepsLongNamesUpToMaxString) {
  KS_REQUIRE_ROOT();
  for (const size_t n : {size_t{256}, size_t{4096}}) {
    const std::string out = stats_of_ready({STRINGS_BIN}, {"--max-string", std::to_string(n)});
    const auto rows = summary_rows(out);
    const std::string name =
        n >= 300 ? std::string(300, 'h') : std::string(n, 'h') + "\xE2\x80\xA6";
    EXPECT_EQ(count_of(rows, name), 1u) << out;
    const std::string t = "string_truncated=" + std::to_string(n >= 300 ? 0 : 1) + " ";
    EXPECT_NE(out.find(t), std::string::npos) << t << "\n" << out;
  }
}

TEST(Modes, StatsModeCountsUsdtPairsExactly) {
  KS_REQUIRE_ROOT();
  // Across threads, by id: 200 jobs.
  const std::string async =
      stats_of_ready({ASYNC_BIN, "--jobs", "200"},
                     {"--span", "kernspan:job_start..kernspan:job_done,id=arg0,name=jobs"});
  EXPECT_EQ(count_of(summary_rows(async), "jobs"), 200u) << async;
  EXPECT_TRUE(no_drops(async)) << async;
  // A name read per span cannot key the kernel's table: refused.
  Proc prog = spawn({ASYNC_BIN});
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "ready", 10000));
  const Result r = run({KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid), "--mode", "stats",
                        "--span", "kernspan:job_start..kernspan:job_done,id=arg0,name=arg1"});
  // So is a name normalized from a text: one line that says what to use.
  const Result rs = run({KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid), "--mode", "stats",
                         "--span", "kernspan:job_start..kernspan:job_done,id=arg0,name=sql(arg1)"});
  kill(prog.pid, SIGKILL);
  wait_exit(prog, 2000);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--mode stats keys spans by pair"), std::string::npos) << r.err;
  EXPECT_NE(rs.status, 0);
  EXPECT_EQ(std::count(rs.err.begin(), rs.err.end(), '\n'), 1) << rs.err;
  EXPECT_NE(rs.err.find("name=sql(argN) names each span by its text at run time; --mode stats "
                        "keys spans by pair: use --mode trace or sample"),
            std::string::npos)
      << rs.err;
  // Per-thread pairs end through the same ks_mode_consumed as functions
  // (StatsModeCountsFunctionCallsExactly); Python's probes cannot give an
  // exact per-pair count here (every Python call is one pair).
}

struct DemoRun { // NOLINT(bugprone-exception-escape): test data
  int ks_status = -1;
  std::vector<json> spans;
  std::string out;
  std::string err;
  json report;
  double wall_s = 0;
};

// demo_service serves `requests` unpaced once kernspan (with ks_args) has
// attached, writing spans to a JSON Lines file. It starts once span_begin
// and span_end are live; the linger covers kernspan still attaching
// span_begin_remote (which it does not use) on a busy machine.
DemoRun demo_run(const std::vector<std::string> &ks_args, int requests,
                 const std::vector<std::string> &demo_args = {}) {
  DemoRun d;
  const std::string report = temp_path("modes-demo.json");
  const std::string file = temp_path("modes-spans.jsonl");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> demo_argv = {
      DEMO_BIN,     "--wait-for-tracer",      "--report",    report,
      "--requests", std::to_string(requests), "--linger-ms", "1000"};
  demo_argv.insert(demo_argv.end(), demo_args.begin(), demo_args.end());
  Proc demo = spawn(demo_argv);
  std::vector<std::string> argv = {KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid),
                                   "-q",         "-o",    file};
  argv.insert(argv.end(), ks_args.begin(), ks_args.end());
  Proc ks = spawn(argv);
  EXPECT_EQ(wait_exit(demo, 120000), 0) << slurp(demo.err_path);
  d.ks_status = wait_exit(ks, 10000);
  d.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  d.out = slurp(ks.out_path);
  d.err = slurp(ks.err_path);
  d.spans = read_jsonl(file);
  d.report = read_json(report);
  return d;
}

uint64_t duration_of(const json &s) {
  return s["end_unix_nano"].get<uint64_t>() - s["start_unix_nano"].get<uint64_t>();
}

TEST(Modes, SampleModeKeepsWholeTraces) {
  KS_REQUIRE_ROOT();
  constexpr int kRequests = 2000;
  const DemoRun d = demo_run({"--mode", "sample", "--sample-rate", "0.1"}, kRequests);
  ASSERT_EQ(d.ks_status, 0) << d.err;
  ASSERT_EQ(d.report["requests"].get<int>(), kRequests);
  EXPECT_TRUE(no_drops(d.out)) << d.out;
  std::map<std::string, std::vector<const json *>> traces;
  for (const auto &s : d.spans) {
    traces[s["trace_id"].get<std::string>()].push_back(&s);
  }
  // Each kept trace is whole: handle_request and its four descendants,
  // every child's parent kept with it.
  size_t roots = 0;
  for (const auto &[id, spans] : traces) {
    ASSERT_EQ(spans.size(), 5u) << "trace " << id << " is not whole";
    std::set<std::string> ids;
    for (const json *s : spans) {
      ids.insert((*s)["span_id"].get<std::string>());
    }
    for (const json *s : spans) {
      const std::string parent = (*s)["parent_span_id"].get<std::string>();
      if (parent.empty()) {
        EXPECT_EQ((*s)["name"], "handle_request");
        roots++;
      } else {
        EXPECT_EQ(ids.count(parent), 1u) << "orphan: " << s->dump();
      }
    }
  }
  EXPECT_EQ(roots, traces.size());
  // Binomial(2000, 0.1): mean 200, sigma 13.4; 3 sigma either side.
  const double sigma = std::sqrt(kRequests * 0.1 * 0.9);
  EXPECT_GE(static_cast<double>(roots), kRequests * 0.1 - 3 * sigma) << d.out;
  EXPECT_LE(static_cast<double>(roots), kRequests * 0.1 + 3 * sigma) << d.out;
  // Every span is accounted for: sampled out + kept = all the app made.
  const long long total = 5LL * kRequests;
  const long long sampled = number_after(d.out, "sampled out: ");
  EXPECT_EQ(sampled + static_cast<long long>(d.spans.size()), total) << d.out;
  EXPECT_NE(d.out.find("sampled out: " + std::to_string(sampled) + " of " + std::to_string(total) +
                       " spans"),
            std::string::npos)
      << d.out;
}

TEST(Modes, SampleRateOneKeepsEverything) {
  KS_REQUIRE_ROOT();
  const DemoRun d = demo_run({"--mode", "sample", "--sample-rate", "1"}, 300);
  ASSERT_EQ(d.ks_status, 0) << d.err;
  EXPECT_EQ(d.spans.size(), 1500u);
  EXPECT_NE(d.out.find("sampled out: 0 of 1500 spans"), std::string::npos) << d.out;
}

TEST(Modes, SampleModeHonoursARemoteParentsSampledFlag) {
  KS_REQUIRE_ROOT();
  const std::string tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-";
  // Not sampled upstream: dropped whatever the rate.
  const DemoRun off =
      demo_run({"--mode", "sample", "--sample-rate", "1"}, 200, {"--traceparent", tp + "00"});
  ASSERT_EQ(off.ks_status, 0) << off.err;
  EXPECT_TRUE(off.spans.empty());
  EXPECT_NE(off.out.find("sampled out: 1000 of 1000 spans"), std::string::npos) << off.out;
  // Sampled upstream: the rate decides on the trace id, the same for all
  // 200 requests (one trace): at rate 1 every span is kept.
  const DemoRun on =
      demo_run({"--mode", "sample", "--sample-rate", "1"}, 200, {"--traceparent", tp + "01"});
  ASSERT_EQ(on.ks_status, 0) << on.err;
  EXPECT_EQ(on.spans.size(), 1000u);
  for (const auto &s : on.spans) {
    ASSERT_EQ(s["trace_id"], "0af7651916cd43dd8448eb211c80319c");
  }
}

TEST(Modes, MinDurationLeavesOutShorterSpansAndCountsThem) {
  KS_REQUIRE_ROOT();
  constexpr uint64_t kMin = 40'000; // 40us
  const DemoRun d = demo_run({"--min-duration", "40us"}, 1000);
  ASSERT_EQ(d.ks_status, 0) << d.err;
  EXPECT_TRUE(no_drops(d.out)) << d.out;
  for (const auto &s : d.spans) {
    ASSERT_GE(duration_of(s), kMin) << s.dump();
  }
  // The app times each span around its probes, so a name whose every span
  // took the app less than the minimum cannot appear.
  for (const auto &[name, st] : d.report["spans"].items()) {
    if (st["max_ns"].get<uint64_t>() < kMin) {
      for (const auto &s : d.spans) {
        ASSERT_NE(s["name"], name) << "the app's longest " << name << " was shorter";
      }
    }
  }
  const long long filtered = number_after(d.out, "filtered: ");
  EXPECT_EQ(filtered + static_cast<long long>(d.spans.size()), 5000) << d.out;
  EXPECT_NE(d.out.find("spans shorter than 40.0us (--min-duration)"), std::string::npos) << d.out;
}

TEST(Modes, MinDurationAboveEverySpanFiltersAllOfThem) {
  KS_REQUIRE_ROOT();
  const DemoRun d = demo_run({"--min-duration", "1m"}, 300);
  ASSERT_EQ(d.ks_status, 0) << d.err;
  EXPECT_TRUE(d.spans.empty());
  EXPECT_NE(d.out.find("filtered: 1500 spans shorter than 60.0s"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("no spans recorded"), std::string::npos) << d.out;
}

TEST(Modes, MinDurationInStatsModeForFunctions) {
  KS_REQUIRE_ROOT();
  const FnStats r =
      stats_of_functions({"--uprobe", "testprog_uprobes:app_add", "--min-duration", "1m"}, 500);
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  EXPECT_NE(r.ks_out.find("filtered: 500 spans shorter than 60.0s"), std::string::npos) << r.ks_out;
  EXPECT_TRUE(summary_rows(r.ks_out).empty()) << r.ks_out;
}

TEST(Modes, MaxSpansPerSecondBoundsWhatTheSinksGet) {
  KS_REQUIRE_ROOT();
  constexpr uint64_t kRate = 1000;
  constexpr int kRequests = 3000;
  const DemoRun d = demo_run({"--max-spans-per-second", std::to_string(kRate)}, kRequests);
  ASSERT_EQ(d.ks_status, 0) << d.err;
  EXPECT_TRUE(no_drops(d.out)) << d.out;
  const uint64_t total = 5ULL * kRequests;
  // The summary still counts every span; the file got the limited stream.
  EXPECT_NE(d.out.find("spans: " + std::to_string(total) + " total"), std::string::npos) << d.out;
  const long long limited = number_after(d.out, "rate limited: ");
  EXPECT_EQ(static_cast<uint64_t>(limited) + d.spans.size(), total) << d.out;
  // A bucket of kRate refilled at kRate a second of span time: at most
  // kRate * (1 + seconds the spans spread over), and at most 2 * kRate in
  // any second of end times.
  EXPECT_LE(static_cast<double>(d.spans.size()), kRate * (1 + d.wall_s)) << d.out;
  std::vector<uint64_t> ends;
  for (const auto &s : d.spans) {
    ends.push_back(s["end_unix_nano"].get<uint64_t>());
  }
  std::sort(ends.begin(), ends.end());
  for (size_t i = 0, j = 0; i < ends.size(); i++) {
    while (j < ends.size() && ends[j] < ends[i] + 1'000'000'000) {
      j++;
    }
    ASSERT_LE(j - i, 2 * kRate) << "in the second after span " << i;
  }
}

} // namespace
} // namespace kernspan::itest
