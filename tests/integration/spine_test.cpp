// SPDX-License-Identifier: Apache-2.0
// The spine end to end: the demo service marks spans with our header,
// kernspan attaches to its PID, and every span arrives with the right
// counts, links, ids and times.
#include "harness.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

namespace kernspan::itest {
namespace {

using nlohmann::json;

const std::set<std::string> kKeys = {
    "name", "trace_id", "span_id",    "parent_span_id", "start_unix_nano", "end_unix_nano", "tgid",
    "tid",  "thread",   "attributes", "costs"}; // kernspan trace measures costs by default

uint64_t now_unix_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool is_hex(const std::string &s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

struct Traced { // NOLINT(bugprone-exception-escape): test data
  int demo_status = -1;
  int ks_status = -1;
  std::vector<json> spans;
  json report;
  std::string ks_out;
  std::string ks_err;
  double exit_lag_ms = 0; // target exit -> kernspan exit
};

// Start the demo waiting for a tracer, trace it to its end, collect it all.
Traced trace_demo(std::vector<std::string> demo_args) {
  Traced t;
  const std::string report = temp_path("report.json");
  const std::string out = temp_path("spans.jsonl");
  std::vector<std::string> argv = {DEMO_BIN, "--wait-for-tracer", "--report", report};
  argv.insert(argv.end(), demo_args.begin(), demo_args.end());
  Proc demo = spawn(argv);
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-o", out, "-q"});
  t.demo_status = wait_exit(demo, 60000);
  const auto exited = std::chrono::steady_clock::now();
  t.ks_status = wait_exit(ks, 10000);
  t.exit_lag_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - exited).count();
  t.ks_out = slurp(ks.out_path);
  t.ks_err = slurp(ks.err_path);
  t.spans = read_jsonl(out);
  t.report = read_json(report);
  return t;
}

// Every drop counter in the summary is zero ("drops: none" or "name=0").
void expect_no_drops(const std::string &summary) {
  const auto pos = summary.find("drops");
  ASSERT_NE(pos, std::string::npos) << summary;
  const std::string line = summary.substr(pos, summary.find('\n', pos) - pos);
  EXPECT_EQ(line.find_first_of("123456789"), std::string::npos) << line;
}

TEST(Spine, ExactSpanCountsLinksAndTimes) {
  KS_REQUIRE_ROOT();
  const uint64_t t_begin = now_unix_ns();
  const Traced t = trace_demo({"--requests", "300", "--rate", "1000", "--linger-ms", "50"});
  const uint64_t t_end = now_unix_ns();
  ASSERT_EQ(t.demo_status, 0);
  ASSERT_EQ(t.ks_status, 0) << t.ks_err;
  ASSERT_EQ(t.report["requests"].get<int>(), 300);

  // Exactly the app's own count of each span name.
  const auto counts = count_by_name(t.spans);
  ASSERT_EQ(counts.size(), t.report["spans"].size());
  for (const auto &[name, st] : t.report["spans"].items()) {
    EXPECT_EQ(counts.at(name), st["count"].get<size_t>()) << name;
  }
  EXPECT_EQ(counts.at("handle_request"), 300u);
  EXPECT_EQ(counts.at("parse"), 300u);

  std::map<std::string, const json *> by_id;
  for (const auto &s : t.spans) {
    std::set<std::string> keys;
    for (const auto &[k, v] : s.items()) {
      keys.insert(k);
    }
    ASSERT_EQ(keys, kKeys) << s.dump();
    ASSERT_TRUE(is_hex(s["trace_id"], 32)) << s.dump();
    ASSERT_TRUE(is_hex(s["span_id"], 16)) << s.dump();
    EXPECT_TRUE(by_id.emplace(s["span_id"].get<std::string>(), &s).second) << "duplicate id";
    EXPECT_EQ(s["tgid"].get<int>(), t.report["pid"].get<int>());
    EXPECT_EQ(s["thread"].get<std::string>().rfind("demo", 0), 0u) << s.dump();
    EXPECT_GE(s["start_unix_nano"].get<uint64_t>(), t_begin);
    EXPECT_LE(s["end_unix_nano"].get<uint64_t>(), t_end);
    EXPECT_LE(s["start_unix_nano"].get<uint64_t>(), s["end_unix_nano"].get<uint64_t>());
  }
  std::set<std::string> traces;
  for (const auto &s : t.spans) {
    const std::string parent = s["parent_span_id"];
    if (parent.empty()) {
      EXPECT_EQ(s["name"], "handle_request");
      traces.insert(s["trace_id"].get<std::string>());
      continue;
    }
    ASSERT_TRUE(is_hex(parent, 16));
    ASSERT_TRUE(by_id.count(parent)) << "parent missing for " << s.dump();
    const json &p = *by_id.at(parent);
    EXPECT_EQ(p["trace_id"], s["trace_id"]) << "a child shares its parent's trace";
    EXPECT_EQ(p["tid"], s["tid"]);
    EXPECT_LE(p["start_unix_nano"].get<uint64_t>(), s["start_unix_nano"].get<uint64_t>());
    EXPECT_GE(p["end_unix_nano"].get<uint64_t>(), s["end_unix_nano"].get<uint64_t>());
    const std::string name = s["name"];
    if (name == "parse" || name == "query" || name == "render") {
      EXPECT_EQ(p["name"], "handle_request");
    } else if (name == "query.read") {
      EXPECT_EQ(p["name"], "query");
    }
  }
  EXPECT_EQ(traces.size(), 300u) << "each request is its own trace";

  // Durations agree with the app's own clock, read just outside the markers:
  // kernspan's are shorter by at most the probe cost.
  std::map<std::string, uint64_t> sum;
  std::map<std::string, uint64_t> max;
  for (const auto &s : t.spans) {
    const uint64_t d = s["end_unix_nano"].get<uint64_t>() - s["start_unix_nano"].get<uint64_t>();
    sum[s["name"]] += d;
    max[s["name"]] = std::max(max[s["name"]], d);
  }
  for (const auto &[name, st] : t.report["spans"].items()) {
    const auto app_sum = st["sum_ns"].get<uint64_t>();
    const auto n = st["count"].get<uint64_t>();
    EXPECT_LE(sum[name], app_sum) << name;
    EXPECT_GE(sum[name] + n * 50'000, app_sum) << name << ": more than 50us/span apart";
    EXPECT_LE(max[name], st["max_ns"].get<uint64_t>()) << name;
  }
  expect_no_drops(t.ks_out);
  EXPECT_NE(t.ks_out.find("handle_request"), std::string::npos) << "summary per span name";
  EXPECT_NE(t.ks_err.find("target exited"), std::string::npos) << t.ks_err;
  EXPECT_LT(t.exit_lag_ms, 2000) << "kernspan should notice the exit at once";
}

TEST(Spine, ThreadsEachGetTheirOwnStacks) {
  KS_REQUIRE_ROOT();
  const Traced t =
      trace_demo({"--requests", "400", "--threads", "4", "--rate", "0", "--linger-ms", "50"});
  ASSERT_EQ(t.demo_status, 0);
  ASSERT_EQ(t.ks_status, 0) << t.ks_err;
  const auto counts = count_by_name(t.spans);
  for (const auto &[name, st] : t.report["spans"].items()) {
    EXPECT_EQ(counts.at(name), st["count"].get<size_t>()) << name;
  }
  std::set<int> tids;
  std::map<std::string, int> tid_of;
  for (const auto &s : t.spans) {
    tids.insert(s["tid"].get<int>());
    tid_of[s["span_id"]] = s["tid"].get<int>();
  }
  EXPECT_GE(tids.size(), 4u);
  for (const auto &s : t.spans) {
    const std::string parent = s["parent_span_id"];
    if (!parent.empty()) {
      ASSERT_TRUE(tid_of.count(parent));
      EXPECT_EQ(tid_of[parent], s["tid"].get<int>());
    }
  }
  expect_no_drops(t.ks_out);
}

// More threads than the BPF side's thread slots (KS_THREAD_SLOTS, 256):
// threads whose tids share a slot live in task storage instead. Every
// thread's stack must still be its own and every span counted.
TEST(Spine, MoreThreadsThanSlotsKeepTheirStacksApart) {
  KS_REQUIRE_ROOT();
  constexpr int kThreads = 300;
  const Traced t = trace_demo({"--requests", "3000", "--threads", std::to_string(kThreads),
                               "--rate", "3000", "--linger-ms", "50"});
  ASSERT_EQ(t.demo_status, 0);
  ASSERT_EQ(t.ks_status, 0) << t.ks_err;
  ASSERT_EQ(t.report["requests"].get<int>(), 3000);
  const auto counts = count_by_name(t.spans);
  for (const auto &[name, st] : t.report["spans"].items()) {
    EXPECT_EQ(counts.at(name), st["count"].get<size_t>()) << name;
  }
  std::set<int> tids;
  std::map<std::string, const json *> by_id;
  for (const auto &s : t.spans) {
    tids.insert(s["tid"].get<int>());
    by_id[s["span_id"]] = &s;
  }
  // Paced over a second, requests reach every worker (all started within
  // the first ~150 ms), so more tids ran than there are slots.
  std::map<int, int> per_slot;
  for (int tid : tids) {
    per_slot[tid % 256]++;
  }
  const auto shared =
      std::count_if(per_slot.begin(), per_slot.end(), [](const auto &kv) { return kv.second > 1; });
  EXPECT_GT(tids.size(), 256u);
  EXPECT_GT(shared, 0) << "no two threads shared a slot: the fallback went untested";
  for (const auto &s : t.spans) {
    const std::string parent = s["parent_span_id"];
    if (parent.empty()) {
      EXPECT_EQ(s["name"], "handle_request") << s.dump();
      continue;
    }
    ASSERT_TRUE(by_id.count(parent)) << "parent missing for " << s.dump();
    const json &p = *by_id.at(parent);
    EXPECT_EQ(p["tid"], s["tid"]) << s.dump();
    EXPECT_EQ(p["trace_id"], s["trace_id"]) << s.dump();
  }
  expect_no_drops(t.ks_out);
}

// A later version may carry more after the flags, behind a '-' (W3C Trace
// Context, "Versioning of traceparent"): it is adopted like version 00.
TEST(Spine, RemoteTraceparentIsAdopted) {
  KS_REQUIRE_ROOT();
  for (const std::string tp : {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                               "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"}) {
    const Traced t = trace_demo({"--requests", "5", "--traceparent", tp, "--linger-ms", "50"});
    ASSERT_EQ(t.ks_status, 0) << t.ks_err;
    ASSERT_EQ(count_by_name(t.spans).at("handle_request"), 5u);
    for (const auto &s : t.spans) {
      EXPECT_EQ(s["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736") << s.dump();
      if (s["name"] == "handle_request") {
        EXPECT_EQ(s["parent_span_id"], "00f067aa0ba902b7");
        EXPECT_EQ(s["attributes"]["kernspan.remote_parent"], true);
      } else {
        EXPECT_NE(s["parent_span_id"], "00f067aa0ba902b7");
      }
    }
  }
}

// A malformed traceparent starts a new trace and is counted, never adopted.
TEST(Spine, MalformedTraceparentStartsANewTraceAndIsCounted) {
  KS_REQUIRE_ROOT();
  for (const std::string tp :
       {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",    // short
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", // not hex
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // no dash
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // ver ff
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
        // each just outside a range of hex digits: / : ` g
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9/2b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0:",
        "0`-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34dg6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        // version 00 ends at its flags: nothing may follow
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more",
        // a later version may go on, but only behind a '-'
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"}) {
    const Traced t = trace_demo({"--requests", "3", "--traceparent", tp, "--linger-ms", "50"});
    ASSERT_EQ(t.ks_status, 0) << t.ks_err;
    ASSERT_EQ(count_by_name(t.spans).at("handle_request"), 3u) << tp;
    for (const auto &s : t.spans) {
      EXPECT_NE(s["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736") << tp;
      if (s["name"] == "handle_request") {
        EXPECT_EQ(s["parent_span_id"], "") << tp;
      }
    }
    EXPECT_NE(t.ks_out.find("bad_traceparent=3"), std::string::npos) << tp << "\n" << t.ks_out;
  }
}

// Each span-stack drop counter, triggered a known number of times by the
// program (testprog_drops.cpp), is shown with exactly that count, and the
// spans that remain are all there.
TEST(Spine, SpanStackDropCountersCountExactly) {
  KS_REQUIRE_ROOT();
  const std::string out = temp_path("drops.jsonl");
  const ReadyRun r = trace_ready({DROPS_BIN}, {"-o", out, "-q"});
  ASSERT_TRUE(r.attached) << r.ks_err;
  ASSERT_EQ(r.prog_status, 0);
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  const auto counts = count_by_name(read_jsonl(out));
  EXPECT_EQ(counts, (std::map<std::string, size_t>{{"deep", 32}, {"outer", 3}, {"a", 2}}));
  for (const std::string d : {"span_stack_overflow=8 ", "unmatched_end=7 ", "mismatched_end=3 ",
                              "ringbuf_full=0 ", "incomplete_span=0 "}) {
    EXPECT_NE(r.ks_out.find(d), std::string::npos) << d << "\n" << r.ks_out;
  }
}

TEST(Spine, ThreadExitReportsOpenSpansAsIncomplete) {
  KS_REQUIRE_ROOT();
  const std::string out = temp_path("exit.jsonl");
  Proc prog = spawn({EXIT_MID_SPAN_BIN});
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid), "-o", out, "-q"});
  ASSERT_EQ(wait_exit(prog, 20000), 0) << slurp(prog.err_path);
  ASSERT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  const auto spans = read_jsonl(out);
  std::map<std::string, const json *> by_name;
  for (const auto &s : spans) {
    by_name[s["name"]] = &s;
  }
  ASSERT_EQ(spans.size(), 3u) << slurp(ks.out_path);
  ASSERT_TRUE(by_name.count("done") && by_name.count("outer") && by_name.count("inner"));
  EXPECT_FALSE(by_name["done"]->at("attributes").contains("kernspan.incomplete"));
  EXPECT_EQ(by_name["outer"]->at("attributes")["kernspan.incomplete"], true);
  EXPECT_EQ(by_name["inner"]->at("attributes")["kernspan.incomplete"], true);
  EXPECT_EQ(by_name["inner"]->at("parent_span_id"), by_name["outer"]->at("span_id"));
  const std::string summary = slurp(ks.out_path);
  EXPECT_NE(summary.find("incomplete"), std::string::npos) << summary;
}

// Names are sent once per thread only from read-only mappings, and a
// thread's comm until it is renamed: changing buffers and renames must
// still give exact names, in both the tp_btf and the raw_tp variant.
void expect_exact_names(bool raw_tp) {
  const std::string out = temp_path("names.jsonl");
  Proc prog = spawn({NAMES_BIN});
  std::vector<std::string> argv = {KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid),
                                   "-o",         out,     "-q"};
  if (raw_tp) {
    argv.emplace_back("--raw-tp");
  }
  Proc ks = spawn(argv);
  ASSERT_EQ(wait_exit(prog, 20000), 0) << slurp(prog.err_path);
  ASSERT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  constexpr size_t kRounds = 300;
  std::map<std::pair<std::string, std::string>, size_t> by_name_thread;
  const auto spans = read_jsonl(out);
  for (const auto &s : spans) {
    by_name_thread[{s["name"].get<std::string>(), s["thread"].get<std::string>()}]++;
  }
  const std::string tail(20, 'x');
  std::map<std::pair<std::string, std::string>, size_t> want = {
      {{"literal", "names-main"}, kRounds},  {{"literal", "names-renamed"}, kRounds},
      {{"dyn0", "names-main"}, kRounds / 3}, {{"dyn1", "names-main"}, kRounds / 3},
      {{"dyn2", "names-main"}, kRounds / 3}, {{"worker", "names-renamed"}, kRounds},
      {{"worker", "names-worker"}, kRounds},
  };
  for (int i = 0; i < 5; i++) {
    want[{"heap" + std::to_string(i) + tail, "names-main"}] = kRounds / 5;
  }
  EXPECT_EQ(by_name_thread, want) << slurp(ks.out_path);
  expect_no_drops(slurp(ks.out_path));
}

TEST(Spine, ChangingSpanAndThreadNamesStayExact) {
  KS_REQUIRE_ROOT();
  expect_exact_names(false);
}

TEST(Spine, ChangingSpanAndThreadNamesStayExactRawTp) {
  KS_REQUIRE_ROOT();
  expect_exact_names(true);
}

// --span-timeout: a span past the timeout is reported once, incomplete, when
// the timeout passes; its late end sends nothing more. A span never ended
// is reported the same way (not only at thread exit).
TEST(Spine, SpanTimeoutReportsLateAndLostSpansOnce) {
  KS_REQUIRE_ROOT();
  const std::string out = temp_path("timeout.jsonl");
  Proc prog = spawn({TIMEOUT_BIN});
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid), "-o", out, "-q",
                   "--span-timeout", "1s"});
  ASSERT_EQ(wait_exit(prog, 20000), 0) << slurp(prog.err_path);
  ASSERT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  const auto spans = read_jsonl(out);
  std::map<std::string, std::vector<json>> by_name;
  for (const auto &s : spans) {
    by_name[s["name"].get<std::string>()].push_back(s);
  }
  ASSERT_EQ(by_name["quick"].size(), 1u) << slurp(ks.out_path);
  EXPECT_FALSE(by_name["quick"][0]["attributes"].contains("kernspan.incomplete"));
  for (const char *name : {"late", "lost"}) {
    ASSERT_EQ(by_name[name].size(), 1u) << name << "\n" << slurp(ks.out_path);
    const json &s = by_name[name][0];
    EXPECT_EQ(s["attributes"]["kernspan.incomplete"], true) << s.dump();
    EXPECT_EQ(s["thread"], "testprog_timeou") << s.dump();
    const auto ms =
        (s["end_unix_nano"].get<uint64_t>() - s["start_unix_nano"].get<uint64_t>()) / 1'000'000;
    EXPECT_GE(ms, 1000u) << s.dump();
    EXPECT_LT(ms, 4000u) << "reported at the timeout, not at its end: " << s.dump();
  }
  const std::string summary = slurp(ks.out_path);
  EXPECT_NE(summary.find("span_timed_out=2"), std::string::npos) << summary;
  EXPECT_NE(summary.find("incomplete_span=0"), std::string::npos) << summary;
}

TEST(Spine, SysSdtProbesUseTheGenericArgumentPath) {
  KS_REQUIRE_ROOT();
  const std::string out = temp_path("sdt.jsonl");
  const ReadyRun r = trace_ready({SDT_BIN, "250"}, {"-o", out, "-q"});
  ASSERT_TRUE(r.attached) << r.ks_err;
  ASSERT_EQ(r.prog_status, 0) << slurp(r.prog.err_path);
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  const auto spans = read_jsonl(out);
  std::map<std::string, size_t> n;
  std::map<std::string, std::string> id_of;
  for (const auto &s : spans) {
    n[s["name"]]++;
  }
  EXPECT_EQ(n["sdt_outer"], 250u);
  EXPECT_EQ(n["sdt_inner"], 250u);
  EXPECT_EQ(spans.size(), 500u);
  for (const auto &s : spans) {
    if (s["name"] == "sdt_outer") {
      id_of[s["span_id"]] = s["trace_id"];
      EXPECT_EQ(s["parent_span_id"], "");
    }
  }
  for (const auto &s : spans) {
    if (s["name"] == "sdt_inner") {
      ASSERT_TRUE(id_of.count(s["parent_span_id"])) << s.dump();
      EXPECT_EQ(id_of[s["parent_span_id"]], s["trace_id"]);
    }
  }
  expect_no_drops(r.ks_out);
}

TEST(Spine, InterruptDetachesAndTheTargetRunsOn) {
  KS_REQUIRE_ROOT();
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "200"});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q"});
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "attached", 10000)) << slurp(ks.err_path);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto t0 = std::chrono::steady_clock::now();
  kill(ks.pid, SIGINT);
  EXPECT_EQ(wait_exit(ks, 5000), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  const std::string summary = slurp(ks.out_path);
  EXPECT_NE(summary.find("handle_request"), std::string::npos) << summary;
  EXPECT_NE(slurp(ks.err_path).find("interrupted"), std::string::npos);
  // Detached: the demo still serves, and stops cleanly on its own signal.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(kill(demo.pid, 0), 0) << "the target must survive the tracer";
  kill(demo.pid, SIGTERM);
  EXPECT_EQ(wait_exit(demo, 5000), 0);
  EXPECT_NE(slurp(demo.out_path).find("served"), std::string::npos);
}

// The live processes whose command line names `marker` (kernspan's
// hand-off grandchild and its closing helpers, after kernspan exited), with
// the BPF objects other than multi-uprobe links and the perf events they hold.
struct HandOffProcs {
  size_t live = 0;
  std::vector<std::string> bpf_objects;
  std::vector<std::string> perf_events;
};

HandOffProcs hand_off_procs(const std::string &marker) {
  HandOffProcs r;
  for (const auto &proc : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = proc.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos ||
        slurp(proc.path() / "cmdline").find(marker) == std::string::npos) {
      continue; // (a zombie's command line is empty)
    }
    r.live++;
    std::error_code ec;
    for (const auto &fd : std::filesystem::directory_iterator(proc.path() / "fd", ec)) {
      const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
      const std::string info = slurp(proc.path() / "fdinfo" / fd.path().filename());
      std::string entry = pid;
      entry.append(": ").append(target).append(" ").append(info.substr(0, info.find('\n', 40)));
      // Multi-uprobe links are handed off on purpose (one grace period each
      // to close); their programs fire only in the target, and return at once.
      if (target.rfind("anon_inode:bpf", 0) == 0 &&
          info.find("uprobe_multi") == std::string::npos) {
        r.bpf_objects.push_back(entry);
      } else if (target == "anon_inode:[perf_event]") {
        r.perf_events.push_back(entry);
      }
    }
  }
  return r;
}

// Soon after kernspan exits, the grandchild that unregisters its uprobes
// (see hand_off_perf_fds) must hold nothing but their multi-uprobe link
// fds. Holding an inherited BPF link kept the cost programs attached,
// paused but run on every syscall and context switch, until it was done:
// seconds.
TEST(Spine, HandOffKeepsNoBpfObjectAlive) {
  KS_REQUIRE_ROOT();
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "100"});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string out = temp_path("handoff.jsonl"); // marks the grandchild's command line
  Proc ks =
      spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-d", "0.3", "-o", out, "-q"});
  ASSERT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  // It closes the other BPF objects first, at once; the links take a grace
  // period (~85 ms), in parallel: within a second all are gone, while the
  // fault this guards against kept them for seconds, until it was done.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  HandOffProcs h = hand_off_procs(out);
  while ((!h.bpf_objects.empty() || !h.perf_events.empty()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    h = hand_off_procs(out);
  }
  EXPECT_TRUE(h.bpf_objects.empty())
      << h.bpf_objects.size() << " BPF objects held after exit, e.g. " << h.bpf_objects[0];
  // The demo's probes and the warm-up's placeholders are all links: a
  // perf-event uprobe takes a grace period each to close, one at a time.
  EXPECT_TRUE(h.perf_events.empty())
      << h.perf_events.size() << " perf events held after exit, e.g. " << h.perf_events[0];
  // And they all finish: no helper waits forever for its turn.
  size_t live = h.live;
  for (int i = 0; i < 100 && live != 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    live = hand_off_procs(out).live;
  }
  EXPECT_EQ(live, 0u) << "hand-off processes still running 5 s after kernspan exited";
  kill(demo.pid, SIGTERM);
  EXPECT_EQ(wait_exit(demo, 5000), 0);
}

TEST(Spine, DurationEndsTheTrace) {
  KS_REQUIRE_ROOT();
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "100"});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto r = run({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-d", "1", "-q"});
  kill(demo.pid, SIGTERM);
  wait_exit(demo, 5000);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("duration elapsed"), std::string::npos) << r.err;
}

} // namespace
} // namespace kernspan::itest
