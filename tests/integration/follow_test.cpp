// SPDX-License-Identifier: Apache-2.0
// Following: threads and processes that appear after attach
// (--follow-children, --binary) and a library loaded with dlopen after
// attach. Exact span counts, per process.
#include "harness.hpp"

#include <algorithm>
#include <csignal>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace kernspan::itest {
namespace {

using nlohmann::json;

// (tgid, name) -> spans
std::map<std::pair<int64_t, std::string>, size_t> by_tgid_name(const std::vector<json> &spans) {
  std::map<std::pair<int64_t, std::string>, size_t> m;
  for (const auto &s : spans) {
    m[{s["tgid"].get<int64_t>(), s["name"].get<std::string>()}]++;
  }
  return m;
}

std::set<int64_t> tgids_of(const std::vector<json> &spans) {
  std::set<int64_t> out;
  for (const auto &s : spans) {
    out.insert(s["tgid"].get<int64_t>());
  }
  return out;
}

// The pids that wrote "spans <pid>" (done) to the program's stdout.
std::set<int64_t> done_pids(const std::string &out) {
  std::set<int64_t> pids;
  std::istringstream in(out);
  std::string word;
  int64_t pid = 0;
  while (in >> word) {
    if (word == "spans" && in >> pid) {
      pids.insert(pid);
    }
  }
  return pids;
}

// Every follow_work span is the child of a follow_span of its thread.
void expect_nesting(const std::vector<json> &spans) {
  std::map<std::string, const json *> by_id;
  for (const auto &s : spans) {
    by_id[s["span_id"].get<std::string>()] = &s;
  }
  for (const auto &s : spans) {
    if (s["name"] != "follow_work") {
      continue;
    }
    const auto it = by_id.find(s["parent_span_id"].get<std::string>());
    ASSERT_NE(it, by_id.end()) << s.dump();
    EXPECT_EQ((*it->second)["name"], "follow_span");
    EXPECT_EQ((*it->second)["tid"], s["tid"]);
  }
}

bool wait_until(const std::function<bool()> &done, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    if (done()) {
      return true;
    }
    usleep(10000);
  }
  return done();
}

struct Traced { // NOLINT(bugprone-exception-escape): test data
  Proc prog;
  int ks_status = -1;
  std::string ks_out;
  std::string ks_err;
  std::vector<json> spans;
};

// Start testprog_follow with `prog_args`, attach kernspan with `ks_args`,
// release it, and wait for kernspan to end by itself (the targets exit).
Traced trace_follow(const std::vector<std::string> &prog_args,
                    const std::vector<std::string> &ks_args) {
  const std::string out = temp_path("follow.jsonl");
  std::vector<std::string> argv = {FOLLOW_BIN};
  argv.insert(argv.end(), prog_args.begin(), prog_args.end());
  std::vector<std::string> ks = {"-o", out, "-q"};
  ks.insert(ks.end(), ks_args.begin(), ks_args.end());
  const ReadyRun r = trace_ready(argv, ks, 30000);
  Traced t{r.prog, r.ks_status, r.ks_out, r.ks_err, {}};
  if (!r.attached) {
    ADD_FAILURE() << "kernspan did not attach: " << t.ks_err;
    return t;
  }
  EXPECT_EQ(r.prog_status, 0);
  t.spans = read_jsonl(out);
  return t;
}

std::string drops_line(const std::string &summary) {
  const auto pos = summary.find("drops");
  return pos == std::string::npos ? "" : summary.substr(pos, summary.find('\n', pos) - pos);
}

// Checked before anything is loaded: no root needed.
TEST(Follow, BadBinaryIsAOneLineError) {
  auto one_line = [](const Result &r, const std::string &needle) {
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  };
  one_line(run({KERNSPAN_BIN, "trace", "--binary", "/nonexistent/app"}),
           "cannot find --binary /nonexistent/app");
  one_line(run({KERNSPAN_BIN, "trace", "--binary", "/tmp"}), "is not a regular file");
  const auto both = run({KERNSPAN_BIN, "trace", "--binary", FOLLOW_BIN, "-p", "1"});
  EXPECT_EQ(both.status, 2) << both.err;
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;
}

TEST(Follow, ThreadsStartedAfterAttachGetUsdtAndFunctionSpans) {
  KS_REQUIRE_ROOT();
  const auto t = trace_follow({"--threads", "3", "--spans", "50"},
                              {"--uprobe", "testprog_follow:follow_work"});
  ASSERT_EQ(t.ks_status, 0) << t.ks_err;
  ASSERT_EQ(t.spans.size(), 300u) << t.ks_out;
  std::map<int64_t, std::map<std::string, size_t>> per_tid;
  for (const auto &s : t.spans) {
    EXPECT_EQ(s["tgid"].get<int64_t>(), t.prog.pid);
    per_tid[s["tid"].get<int64_t>()][s["name"].get<std::string>()]++;
  }
  ASSERT_EQ(per_tid.size(), 3u);
  for (const auto &[tid, names] : per_tid) {
    EXPECT_NE(tid, t.prog.pid) << "spans come from the new threads only";
    EXPECT_EQ(names.at("follow_span"), 50u) << tid;
    EXPECT_EQ(names.at("follow_work"), 50u) << tid;
  }
  expect_nesting(t.spans);
}

TEST(Follow, ChildrenAndGrandchildrenWithFollowChildren) {
  KS_REQUIRE_ROOT();
  // 3 children and 1 grandchild start their spans only once the parent has
  // exited: the trace must go on until the last of them is done.
  const auto t = trace_follow({"--children", "3", "--grandchild", "--spans", "40"},
                              {"--follow-children", "--uprobe", "testprog_follow:follow_work"});
  ASSERT_EQ(t.ks_status, 0) << t.ks_err;
  EXPECT_NE(t.ks_err.find("stopped (target exited)"), std::string::npos) << t.ks_err;
  const auto done = done_pids(slurp(t.prog.out_path));
  ASSERT_EQ(done.size(), 5u) << slurp(t.prog.out_path);
  EXPECT_EQ(tgids_of(t.spans), done);
  const auto counts = by_tgid_name(t.spans);
  for (const int64_t pid : done) {
    EXPECT_EQ(counts.at(std::make_pair(pid, "follow_span")), 40u) << pid;
    EXPECT_EQ(counts.at(std::make_pair(pid, "follow_work")), 40u) << pid;
  }
  EXPECT_EQ(t.spans.size(), 5u * 80u);
  expect_nesting(t.spans);
  EXPECT_EQ(drops_line(t.ks_out).find_first_of("123456789"), std::string::npos) << t.ks_out;
}

TEST(Follow, ChildThatExecsAnotherBinaryGetsItsProbes) {
  KS_REQUIRE_ROOT();
  // A copy of the program is another file (another inode): its probes are
  // attached when the rescan finds the child's new image.
  const std::string copy = temp_path("follow-copy");
  ASSERT_EQ(run({"/bin/cp", FOLLOW_BIN, copy}).status, 0);
  const std::string out = temp_path("exec.jsonl");
  Proc prog = spawn({FOLLOW_BIN, "--spans", "20", "--exec-child", copy});
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "ready", 10000));
  Proc k = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid), "--follow-children", "-o",
                  out, "-q"});
  ASSERT_TRUE(wait_for_text(k, k.err_path, "attached", 20000)) << slurp(k.err_path);
  kill(prog.pid, SIGUSR1);
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "exec-child ", 10000));
  const std::string text = slurp(prog.out_path);
  const pid_t child = std::stoi(text.substr(text.find("exec-child ") + 11));
  ASSERT_TRUE(wait_for_text(k, k.err_path,
                            "in " + copy + ", mapped later by PID " + std::to_string(child), 10000))
      << slurp(k.err_path);
  kill(child, SIGUSR1);
  ASSERT_EQ(wait_exit(prog, 30000), 0) << slurp(prog.err_path);
  ASSERT_EQ(wait_exit(k, 10000), 0) << slurp(k.err_path);
  unlink(copy.c_str());
  auto counts = by_tgid_name(read_jsonl(out));
  EXPECT_EQ(counts[std::make_pair(int64_t{prog.pid}, std::string("follow_span"))], 20u);
  EXPECT_EQ(counts[std::make_pair(int64_t{child}, std::string("follow_span"))], 20u);
  EXPECT_EQ(counts.size(), 2u) << slurp(k.out_path);
}

TEST(Follow, WithoutFollowChildrenOnlyTheTargetIsTraced) {
  KS_REQUIRE_ROOT();
  const auto t = trace_follow({"--children", "3", "--spans", "40"},
                              {"--uprobe", "testprog_follow:follow_work"});
  ASSERT_EQ(t.ks_status, 0) << t.ks_err;
  // The children inherit the parent's breakpoints in memory; they must run
  // on untouched and untraced.
  ASSERT_TRUE(wait_until([&] { return done_pids(slurp(t.prog.out_path)).size() == 4; }, 10000))
      << slurp(t.prog.out_path);
  EXPECT_EQ(tgids_of(t.spans), std::set<int64_t>{t.prog.pid});
  const auto counts = by_tgid_name(t.spans);
  EXPECT_EQ(counts.at(std::make_pair(t.prog.pid, "follow_span")), 40u);
  EXPECT_EQ(counts.at(std::make_pair(t.prog.pid, "follow_work")), 40u);
  EXPECT_EQ(t.spans.size(), 80u);
}

TEST(Follow, BinaryTracesRunningAndLaterProcesses) {
  KS_REQUIRE_ROOT();
  const std::string out = temp_path("binary.jsonl");
  Proc early = spawn({FOLLOW_BIN, "--spans", "30"}); // running before kernspan
  ASSERT_TRUE(wait_for_text(early, early.out_path, "ready", 10000));
  Proc k = spawn({KERNSPAN_BIN, "trace", "--binary", FOLLOW_BIN, "-o", out, "-q", "--uprobe",
                  "testprog_follow:follow_work"});
  ASSERT_TRUE(wait_for_text(k, k.err_path, "attached", 20000)) << slurp(k.err_path);
  kill(early.pid, SIGUSR1);
  ASSERT_EQ(wait_exit(early, 30000), 0);
  // Started after kernspan, running the spans at once.
  Proc a = spawn({FOLLOW_BIN, "--spans", "30", "--no-wait"});
  Proc b = spawn({FOLLOW_BIN, "--spans", "30", "--no-wait"});
  ASSERT_EQ(wait_exit(a, 30000), 0);
  ASSERT_EQ(wait_exit(b, 30000), 0);
  ASSERT_EQ(kill(k.pid, 0), 0) << "--binary runs until stopped: " << slurp(k.err_path);
  kill(k.pid, SIGINT);
  ASSERT_EQ(wait_exit(k, 10000), 0) << slurp(k.err_path);
  const auto spans = read_jsonl(out);
  const std::set<int64_t> want = {early.pid, a.pid, b.pid};
  EXPECT_EQ(tgids_of(spans), want);
  auto counts = by_tgid_name(spans);
  for (const int64_t pid : want) {
    EXPECT_EQ(counts[std::make_pair(pid, std::string("follow_span"))], 30u) << pid;
    EXPECT_EQ(counts[std::make_pair(pid, std::string("follow_work"))], 30u) << pid;
  }
  EXPECT_EQ(spans.size(), 180u) << slurp(k.out_path);
  expect_nesting(spans);
}

TEST(Follow, DlopenedLibraryGetsItsSpanProbesAndTheWaitingUprobe) {
  KS_REQUIRE_ROOT();
  const std::string out = temp_path("dlopen.jsonl");
  Proc prog = spawn({DLOPEN_BIN, "--lib", KSDL_SO, "--spans", "25"});
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "ready", 10000));
  Proc k = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid), "-o", out, "-q",
                  "--uprobe", "libksdl:ksdl_work"});
  ASSERT_TRUE(wait_for_text(k, k.err_path, "attached", 20000)) << slurp(k.err_path);
  EXPECT_NE(slurp(k.err_path).find("waiting for libksdl to be loaded"), std::string::npos)
      << slurp(k.err_path);
  kill(prog.pid, SIGUSR1);
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "loaded", 10000)) << slurp(prog.err_path);
  // Attached on the collector's next rescan of the process's maps.
  ASSERT_TRUE(wait_for_text(k, k.err_path, "mapped later by PID", 10000)) << slurp(k.err_path);
  EXPECT_NE(slurp(k.err_path).find("attached 3 span probe(s) and 1 function(s)"), std::string::npos)
      << slurp(k.err_path);
  kill(prog.pid, SIGUSR2);
  ASSERT_EQ(wait_exit(prog, 30000), 0) << slurp(prog.err_path);
  ASSERT_EQ(wait_exit(k, 10000), 0) << slurp(k.err_path);
  const auto spans = read_jsonl(out);
  std::map<std::string, size_t> counts;
  std::map<std::string, const json *> by_id;
  for (const auto &s : spans) {
    counts[s["name"].get<std::string>()]++;
    by_id[s["span_id"].get<std::string>()] = &s;
  }
  EXPECT_EQ(counts["main_span"], 25u);
  EXPECT_EQ(counts["dl_span"], 25u);
  EXPECT_EQ(counts["ksdl_work"], 25u);
  EXPECT_EQ(counts["dl_remote"], 25u);
  EXPECT_EQ(spans.size(), 100u) << slurp(k.out_path);
  for (const auto &s : spans) {
    if (s["name"] == "dl_remote") { // its program was loaded when the library appeared
      EXPECT_EQ(s["trace_id"], "0af7651916cd43dd8448eb211c80319c") << s.dump();
      EXPECT_EQ(s["parent_span_id"], "b7ad6b7169203331") << s.dump();
    }
    if (s["name"] == "ksdl_work") {
      const auto it = by_id.find(s["parent_span_id"].get<std::string>());
      ASSERT_NE(it, by_id.end()) << s.dump();
      EXPECT_EQ((*it->second)["name"], "dl_span");
    }
  }
}

} // namespace
} // namespace kernspan::itest
