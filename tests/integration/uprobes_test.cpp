// SPDX-License-Identifier: Apache-2.0
// Function uprobes end to end: testprog_uprobes counts its own
// calls, kernspan turns every entry/return pair into a span, and the counts
// must agree exactly.
#include "harness.hpp"

#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <thread>

namespace kernspan::itest {
namespace {

using nlohmann::json;

struct FnRun { // NOLINT(bugprone-exception-escape): test data
  int prog_status = -1;
  int ks_status = -1;
  std::vector<json> spans;
  json report;
  std::string ks_out;
  std::string ks_err;
};

// Start the program, attach kernspan with `ks_args`, then let it run.
FnRun trace_prog(const std::vector<std::string> &ks_args, std::vector<std::string> prog_args,
                 const std::vector<std::string> &env = {}) {
  const std::string report = temp_path("fn-report.json");
  const std::string out = temp_path("fn-spans.jsonl");
  std::vector<std::string> argv;
  if (!env.empty()) {
    argv.push_back("/usr/bin/env");
    argv.insert(argv.end(), env.begin(), env.end());
  }
  argv.push_back(UPROBES_BIN);
  argv.insert(argv.end(), {"--report", report});
  argv.insert(argv.end(), prog_args.begin(), prog_args.end());
  std::vector<std::string> ks = {"-o", out, "-q"};
  ks.insert(ks.end(), ks_args.begin(), ks_args.end());
  const ReadyRun t = trace_ready(argv, ks);
  FnRun r{t.prog_status, t.ks_status, {}, {}, t.ks_out, t.ks_err};
  if (!t.attached) {
    return r;
  }
  r.spans = read_jsonl(out);
  r.report = read_json(report);
  return r;
}

std::string drops_line(const std::string &summary) {
  const auto pos = summary.find("drops");
  return pos == std::string::npos ? "" : summary.substr(pos, summary.find('\n', pos) - pos);
}

TEST(Uprobes, SpanCountsEqualTheProgramsOwnCallCounts) {
  KS_REQUIRE_ROOT();
  const FnRun r = trace_prog(
      {"--uprobe", "testprog_uprobes:app_add,args=2", "--uprobe", "libksfn:fnlib_square,args=1",
       "--uprobe", "testprog_uprobes:shop::Cache::*", "--uprobe", "testprog_uprobes:static_helper"},
      {"--calls", "500"});
  ASSERT_EQ(r.prog_status, 0) << r.ks_err;
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  const auto counts = count_by_name(r.spans);
  ASSERT_EQ(counts.size(), 4u) << r.ks_out;
  EXPECT_EQ(counts.at("app_add"), r.report["app_add"].get<size_t>());
  EXPECT_EQ(counts.at("fnlib_square"), r.report["fnlib_square"].get<size_t>());
  EXPECT_EQ(counts.at("static_helper(int)"), r.report["static_helper"].get<size_t>());
  EXPECT_EQ(counts.at("shop::Cache::lookup(int) const"), r.report["lookup"].get<size_t>());
  EXPECT_EQ(r.report["app_add"].get<size_t>(), 500u);

  // Nesting: every fnlib_square is a child of an app_add on the same
  // thread and trace; the arguments and return values are the real ones.
  std::map<std::string, const json *> by_id;
  for (const auto &s : r.spans) {
    by_id[s["span_id"].get<std::string>()] = &s;
  }
  std::set<int64_t> firsts;
  for (const auto &s : r.spans) {
    const auto &a = s["attributes"];
    if (s["name"] == "app_add") {
      EXPECT_EQ(s["parent_span_id"], "") << s.dump();
      EXPECT_EQ(a["arg1"].get<int64_t>(), 1) << s.dump();
      EXPECT_EQ(a["ret"].get<int64_t>(), a["arg0"].get<int64_t>() + 1) << s.dump();
      firsts.insert(a["arg0"].get<int64_t>());
    } else if (s["name"] == "fnlib_square") {
      ASSERT_TRUE(by_id.count(s["parent_span_id"].get<std::string>())) << s.dump();
      const json &p = *by_id.at(s["parent_span_id"].get<std::string>());
      EXPECT_EQ(p["name"], "app_add");
      EXPECT_EQ(p["trace_id"], s["trace_id"]);
      EXPECT_EQ(p["attributes"]["arg0"], a["arg0"]);
      EXPECT_EQ(a["ret"].get<int64_t>(), a["arg0"].get<int64_t>() * a["arg0"].get<int64_t>());
      EXPECT_LE(p["start_unix_nano"].get<uint64_t>(), s["start_unix_nano"].get<uint64_t>());
      EXPECT_GE(p["end_unix_nano"].get<uint64_t>(), s["end_unix_nano"].get<uint64_t>());
    } else {
      EXPECT_FALSE(a.contains("ret")) << "no args=N, no attributes: " << s.dump();
    }
  }
  EXPECT_EQ(firsts.size(), 500u) << "app_add(i, 1) for every i";
  EXPECT_EQ(drops_line(r.ks_out).find_first_of("123456789"), std::string::npos) << r.ks_out;
}

TEST(Uprobes, SymbolOnlyInDynsymOfAStrippedLibrary) {
  KS_REQUIRE_ROOT();
  const std::string stripped = std::string(STRIPPED_DIR) + "/libksfn.so";
  const auto l = run({KERNSPAN_BIN, "list", "--binary", stripped, "--functions", "fnlib_*"});
  ASSERT_EQ(l.status, 0) << l.err;
  EXPECT_NE(l.out.find("fnlib_square"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find(" dynsym "), std::string::npos) << "only .dynsym is left: " << l.out;
  EXPECT_EQ(l.out.find("symtab"), std::string::npos) << l.out;

  const FnRun r = trace_prog({"--uprobe", "libksfn:fnlib_square"}, {"--calls", "300"},
                             {"LD_LIBRARY_PATH=" + std::string(STRIPPED_DIR)});
  ASSERT_EQ(r.prog_status, 0) << r.ks_err;
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  EXPECT_EQ(count_by_name(r.spans).at("fnlib_square"), 300u);
}

TEST(Uprobes, LongjmpOutOfAFunctionEndsItIncompleteAndCountsIt) {
  KS_REQUIRE_ROOT();
  const FnRun r =
      trace_prog({"--uprobe", "testprog_uprobes:outer", "--uprobe", "testprog_uprobes:jumper"},
                 {"--calls", "0", "--jumps", "20"});
  ASSERT_EQ(r.prog_status, 0) << r.ks_err;
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  const auto counts = count_by_name(r.spans);
  EXPECT_EQ(counts.at("outer"), 20u);
  EXPECT_EQ(counts.at("jumper"), 20u);
  for (const auto &s : r.spans) {
    const bool incomplete = s["attributes"].value("kernspan.incomplete", false);
    EXPECT_EQ(incomplete, s["name"] == "jumper") << s.dump();
  }
  EXPECT_NE(drops_line(r.ks_out).find("fn_return_lost=20"), std::string::npos) << r.ks_out;
}

TEST(Uprobes, ListShowsMatchesAndPlacementPastEndbr64) {
  const auto r = run({KERNSPAN_BIN, "list", "--binary", UPROBES_BIN, "--functions", "app_add"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("entry+4 (after endbr64"), std::string::npos) << r.out;
  const auto raw =
      run({KERNSPAN_BIN, "list", "--binary", UPROBES_BIN, "--functions", "app_add", "--raw-entry"});
  EXPECT_NE(raw.out.find("entry (endbr64, single-stepped)"), std::string::npos) << raw.out;
  const auto cxx =
      run({KERNSPAN_BIN, "list", "--binary", UPROBES_BIN, "--functions", "shop::Cache::*"});
  ASSERT_EQ(cxx.status, 0) << cxx.err;
  EXPECT_NE(cxx.out.find("shop::Cache::lookup(int) const"), std::string::npos) << cxx.out;
}

TEST(Uprobes, ListByProcessFindsLibraryFunctions) {
  Proc prog = spawn({UPROBES_BIN});
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "ready", 10000));
  const auto r =
      run({KERNSPAN_BIN, "list", "-p", std::to_string(prog.pid), "--functions", "libksfn:fnlib_*"});
  const auto all =
      run({KERNSPAN_BIN, "list", "-p", std::to_string(prog.pid), "--functions", "static_helper"});
  kill(prog.pid, SIGKILL);
  wait_exit(prog, 2000);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("libksfn.so"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fnlib_square"), std::string::npos) << r.out;
  ASSERT_EQ(all.status, 0) << all.err;
  EXPECT_NE(all.out.find("static_helper(int)"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find(" symtab "), std::string::npos) << "a static function: " << all.out;
}

// A glob that takes in one function the kernel will not probe: libc's
// pthread_spin_lock starts with a lock-prefixed instruction, which x86
// uprobes refuse (ENOTSUPP). That function is named and skipped, the others
// are attached, and the trace runs.
TEST(Uprobes, AFunctionTheKernelRefusesIsSkippedAndNamed) {
  KS_REQUIRE_ROOT();
  Proc prog = spawn({UPROBES_BIN});
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "ready", 10000));
  const auto r = run({KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid), "--uprobe",
                      "libc:pthread_spin_*", "-d", "0.5", "-q"});
  kill(prog.pid, SIGKILL);
  wait_exit(prog, 2000);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("skipped 1 function the kernel refuses to probe in "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(": pthread_spin_lock ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("attached "), std::string::npos) << r.err;
}

// Bad input: one line on stderr, exit status 1 (2 for flag syntax).
class UprobeErrors : public ReadyProgTest {
protected:
  UprobeErrors() : ReadyProgTest({UPROBES_BIN}) {}
  Result trace(const std::string &spec, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        KERNSPAN_BIN, "trace", "-p", std::to_string(prog_.pid), "--uprobe", spec, "-d", "1", "-q"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  }
  static void expect_error(const Result &r, const std::string &needle) {
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("kernspan: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
};

TEST_F(UprobeErrors, MissingSymbolSuggestsTheNearestNames) {
  expect_error(trace("testprog_uprobes:app_ad"), "no function 'app_ad' in ");
  expect_error(trace("testprog_uprobes:app_ad"), "nearest: app_add");
}

TEST_F(UprobeErrors, PatternMatchingNothing) {
  expect_error(trace("testprog_uprobes:zz_nothing_*"),
               "pattern 'zz_nothing_*' matches no function in ");
}

TEST_F(UprobeErrors, PatternMatchingThousandsNeedsMaxProbes) {
  expect_error(trace("libc:*"), "more than --max-probes 1000");
}

TEST_F(UprobeErrors, NonElfObject) {
  expect_error(trace("/etc/hostname:foo"), "/etc/hostname is not an ELF object");
}

TEST_F(UprobeErrors, BadSpecPointsAtTheCharacter) {
  expect_error(trace("libc"), "missing ':' between OBJECT and PATTERN at character 5");
  expect_error(trace("libc:malloc,args=9"), "args must be 0..6 at character 18");
  expect_error(trace("libc:malloc,argz=1"), "unknown option 'argz' at character 13");
}

// A library not mapped yet may be loaded later (dlopen): kernspan says it
// waits for it and traces on (follow_test.cpp attaches one).
TEST_F(UprobeErrors, UnknownLibraryIsWaitedFor) {
  const auto r = trace("libnope:foo");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("waiting for libnope to be loaded (--uprobe libnope:foo)"),
            std::string::npos)
      << r.err;
}

// Without -d, a library name no process maps is not waited for forever:
// after a few seconds, an error naming the nearest mapped libraries.
TEST_F(UprobeErrors, MistypedLibraryFailsAfterWaitingWithTheNearestNames) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run(
      {KERNSPAN_BIN, "trace", "-p", std::to_string(prog_.pid), "--uprobe", "libcc:malloc", "-q"},
      30000);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("kernspan: error: --uprobe libcc:malloc: nothing named libcc has been "
                       "mapped by PID " +
                       std::to_string(prog_.pid) + " in 5 s; nearest in its maps: libc.so.6"),
            std::string::npos)
      << r.err;
  EXPECT_LT(took, std::chrono::seconds(15));
}

} // namespace
} // namespace kernspan::itest
