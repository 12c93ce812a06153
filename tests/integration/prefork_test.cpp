// SPDX-License-Identifier: Apache-2.0
// Do no harm to children: a pre-fork server whose parent runs spans while
// traced, then forks 50 workers that run the same span sites. Every worker
// must exit 0 (the oracle is the workers' own exit status, collected by
// their parent), and when followed every worker's spans must all be there.
// On kernels that optimize uprobes on five-byte NOPs, a child forked after
// the parent hit such a site inherits a call into a trampoline page it does
// not have; kernspan keeps its sites unoptimized there (site_guard.hpp). The
// last test checks kernspan's run-time verdict on the kernel against what
// happens to the workers under a tracer without such a guard (bpftrace).
#include "harness.hpp"

#include <csignal>
#include <map>
#include <set>
#include <sstream>

namespace kernspan::itest {
namespace {

using nlohmann::json;

constexpr int kWorkers = 50;
constexpr int kSpans = 20;

struct Workers {
  int ok = 0;
  int failed = 0;
  std::set<int64_t> pids;
};

// The program's "worker <pid> exit|signal <n>" lines.
Workers read_workers(const std::string &out) {
  Workers w;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string word;
    std::string how;
    int64_t pid = 0;
    int code = -1;
    if (l >> word >> pid >> how >> code && word == "worker") {
      w.pids.insert(pid);
      (how == "exit" && code == 0 ? w.ok : w.failed)++;
    }
  }
  return w;
}

struct PreforkRun { // NOLINT(bugprone-exception-escape): test data
  ReadyRun r;
  Workers workers;
  std::vector<json> spans;
};

PreforkRun run_prefork(const std::vector<std::string> &ks_args) {
  const std::string out = temp_path("prefork.jsonl");
  std::vector<std::string> ks = {"-o", out, "-q", "-v"};
  ks.insert(ks.end(), ks_args.begin(), ks_args.end());
  PreforkRun run{trace_ready({PREFORK_BIN, "--workers", std::to_string(kWorkers), "--spans",
                              std::to_string(kSpans)},
                             ks, 30000),
                 {},
                 {}};
  run.workers = read_workers(slurp(run.r.prog.out_path));
  run.spans = read_jsonl(out);
  return run;
}

std::map<int64_t, size_t> spans_by_tgid(const std::vector<json> &spans) {
  std::map<int64_t, size_t> m;
  for (const auto &s : spans) {
    EXPECT_EQ(s["name"], "prefork_span");
    m[s["tgid"].get<int64_t>()]++;
  }
  return m;
}

TEST(Prefork, WorkersForkedAfterTracedSpansAllExitCleanly) {
  KS_REQUIRE_ROOT();
  const PreforkRun pf = run_prefork({});
  ASSERT_TRUE(pf.r.attached) << pf.r.ks_err;
  EXPECT_EQ(pf.r.prog_status, 0) << slurp(pf.r.prog.out_path);
  EXPECT_EQ(pf.workers.ok, kWorkers) << slurp(pf.r.prog.out_path);
  EXPECT_EQ(pf.workers.failed, 0);
  EXPECT_EQ(pf.r.ks_status, 0) << pf.r.ks_err;
  // Not followed: the parent's spans only, every one of them.
  const auto by_tgid = spans_by_tgid(pf.spans);
  ASSERT_EQ(by_tgid.size(), 1u);
  EXPECT_EQ(by_tgid.begin()->first, pf.r.prog.pid);
  EXPECT_EQ(by_tgid.begin()->second, static_cast<size_t>(kSpans));
}

TEST(Prefork, FollowedWorkersAllExitCleanlyWithEverySpan) {
  KS_REQUIRE_ROOT();
  const PreforkRun pf = run_prefork({"--follow-children"});
  ASSERT_TRUE(pf.r.attached) << pf.r.ks_err;
  EXPECT_EQ(pf.r.prog_status, 0) << slurp(pf.r.prog.out_path);
  EXPECT_EQ(pf.workers.ok, kWorkers) << slurp(pf.r.prog.out_path);
  EXPECT_EQ(pf.workers.failed, 0);
  EXPECT_EQ(pf.r.ks_status, 0) << pf.r.ks_err;
  const auto by_tgid = spans_by_tgid(pf.spans);
  EXPECT_EQ(by_tgid.size(), static_cast<size_t>(kWorkers) + 1);
  EXPECT_EQ(by_tgid.count(pf.r.prog.pid), 1u);
  for (int64_t pid : pf.workers.pids) {
    ASSERT_EQ(by_tgid.count(pid), 1u) << "no spans from worker " << pid;
    EXPECT_EQ(by_tgid.at(pid), static_cast<size_t>(kSpans)) << pid;
  }
  EXPECT_EQ(pf.spans.size(), static_cast<size_t>(kSpans) * (kWorkers + 1));
}

// kernspan's verdict on this kernel ("-v": "five-byte NOP probe sites on
// this kernel: ..."), and what a tracer that does not guard its sites does
// to the workers. Where kernspan finds that children crash, they crash under
// bpftrace; where it finds them safe (or the sites emulated), they live.
TEST(Prefork, TheKernelVerdictMatchesWhatHappensWithoutTheGuard) {
  KS_REQUIRE_ROOT();
  const PreforkRun guarded = run_prefork({});
  ASSERT_TRUE(guarded.r.attached) << guarded.r.ks_err;
  const std::string key = "five-byte NOP probe sites on this kernel: ";
  const auto at = guarded.r.ks_err.find(key);
  ASSERT_NE(at, std::string::npos) << guarded.r.ks_err;
  const std::string verdict =
      guarded.r.ks_err.substr(at + key.size(), guarded.r.ks_err.find('\n', at) - at - key.size());
  ASSERT_TRUE(verdict == "emulated" || verdict == "optimized, safe across fork" ||
              verdict == "optimized, crashes children forked after a hit")
      << verdict;

  // A fresh copy: the guard's mark lives on the probe of a file offset in
  // a file, as long as any tracer (here, the guarded run's links, which
  // detach in the background) has a probe there.
  const std::string copy = temp_path("prefork-bin");
  ASSERT_EQ(run({"/bin/cp", PREFORK_BIN, copy}).status, 0);
  constexpr int kFew = 3; // each crash is a kernel log line
  Proc prog = spawn({copy, "--workers", std::to_string(kFew), "--spans", "2", "--wait-tracer"});
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "ready", 10000));
  Proc bt = spawn({"/usr/bin/bpftrace", "-p", std::to_string(prog.pid), "-e",
                   "usdt:" + copy + ":kernspan:span_begin { @n = count(); }"});
  const int prog_status = wait_exit(prog, 60000);
  kill(bt.pid, SIGINT);
  wait_exit(bt, 10000);
  unlink(copy.c_str());
  const Workers w = read_workers(slurp(prog.out_path));
  ASSERT_EQ(w.ok + w.failed, kFew)
      << slurp(prog.out_path) << slurp(prog.err_path) << slurp(bt.err_path);
  if (verdict == "optimized, crashes children forked after a hit") {
    EXPECT_EQ(w.failed, kFew) << slurp(prog.out_path);
    EXPECT_NE(prog_status, 0);
  } else {
    EXPECT_EQ(w.ok, kFew) << slurp(prog.out_path);
    EXPECT_EQ(prog_status, 0);
  }
}

} // namespace
} // namespace kernspan::itest
