// SPDX-License-Identifier: Apache-2.0
// --span and --usdt: spans from USDT probes that programs already
// ship. The third-party program is Debian's own python3.11, whose
// python:function__entry/function__return probes (semaphore-gated) become
// spans named by the function (a string argument).
#include "harness.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sys/stat.h>

namespace kernspan::itest {
namespace {

using nlohmann::json;

constexpr const char *kPython = "/usr/bin/python3.11"; // package python3.11-minimal

struct PairRun {
  int prog_status = -1;
  int ks_status = -1;
  std::vector<json> spans;
  std::string ks_out;
  std::string ks_err;
};

// Start argv (prints "ready", waits for SIGUSR1), attach, release, collect.
PairRun trace_pairs(const std::vector<std::string> &argv, const std::vector<std::string> &ks_args) {
  const std::string out = temp_path("pairs.jsonl");
  std::vector<std::string> ks = {"-o", out, "-q"};
  ks.insert(ks.end(), ks_args.begin(), ks_args.end());
  const ReadyRun t = trace_ready(argv, ks);
  PairRun r{t.prog_status, t.ks_status, {}, t.ks_out, t.ks_err};
  if (!t.attached) {
    ADD_FAILURE() << "kernspan did not attach: " << r.ks_err;
    return r;
  }
  r.spans = read_jsonl(out);
  return r;
}

TEST(Pairs, PythonFunctionProbesBecomeSpansNamedByTheFunction) {
  KS_REQUIRE_ROOT();
  struct stat st {};
  if (stat(kPython, &st) != 0) {
    GTEST_SKIP() << kPython << " missing: apt-get install python3.11-minimal";
  }
  // The script runs from a path of fixed, short length, whatever the
  // checkout's: its path is a string argument of the probes, and the
  // attribute holds all of it only up to the string-length limit.
  char dir[] = "/tmp/ks-py-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string script = std::string(dir) + "/pyprog_calls.py";
  {
    std::ifstream in(PYPROG, std::ios::binary);
    std::ofstream out(script, std::ios::binary);
    out << in.rdbuf();
    ASSERT_TRUE(in && out) << "copying " << PYPROG << " to " << script;
  }
  const std::string report = temp_path("py-report.json");
  const PairRun r = trace_pairs({kPython, script, "300", report},
                                {"--span",
                                 "python:function__entry..python:function__return,name=arg1,"
                                 "attr.file=str(arg0),attr.line=arg2",
                                 "--usdt", "python:line"});
  std::filesystem::remove_all(dir);
  ASSERT_EQ(r.prog_status, 0);
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  const json own = json::parse(slurp(report));
  const auto counts = count_by_name(r.spans);
  // Exactly the script's own count of its calls.
  EXPECT_EQ(counts.at("work"), own["work"].get<size_t>());
  EXPECT_EQ(counts.at("helper"), own["helper"].get<size_t>());
  EXPECT_EQ(own["helper"].get<size_t>(), 600u);
  std::map<std::string, const json *> by_id;
  for (const auto &s : r.spans) {
    by_id[s["span_id"].get<std::string>()] = &s;
  }
  for (const auto &s : r.spans) {
    if (s["name"] != "helper") {
      continue;
    }
    EXPECT_EQ(s["attributes"]["file"], script) << s.dump();
    EXPECT_GT(s["attributes"]["line"].get<int64_t>(), 0) << s.dump();
    ASSERT_TRUE(by_id.count(s["parent_span_id"].get<std::string>())) << s.dump();
    EXPECT_EQ(by_id.at(s["parent_span_id"].get<std::string>())->at("name"), "work");
  }
  const auto hits = r.ks_out.find("usdt hits: python:line=");
  ASSERT_NE(hits, std::string::npos) << r.ks_out;
  EXPECT_GT(std::stoul(r.ks_out.substr(hits + 23)), 900u) << "3 lines per work() at least";
}

TEST(Pairs, AsyncSpansPairByIdAcrossThreads) {
  KS_REQUIRE_ROOT();
  const PairRun r = trace_pairs({ASYNC_BIN, "--jobs", "200"},
                                {"--span",
                                 std::string("kernspan:job_start..kernspan:job_done,id=arg0,"
                                             "name=arg1,attr.job=arg0,attr.status=end.arg1"),
                                 "--usdt", "kernspan:job_start", "--usdt", "kernspan:job_done"});
  ASSERT_EQ(r.prog_status, 0);
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  ASSERT_EQ(r.spans.size(), 200u) << r.ks_out;
  std::set<int64_t> jobs;
  std::set<int> tids;
  const std::vector<std::string> names = {"resize", "encode", "upload"};
  for (const auto &s : r.spans) {
    const int64_t job = s["attributes"]["job"].get<int64_t>();
    jobs.insert(job);
    EXPECT_EQ(s["name"], names[static_cast<size_t>(job % 3)]) << s.dump();
    EXPECT_EQ(s["attributes"]["status"].get<int64_t>(), job % 3) << s.dump();
    EXPECT_EQ(s["attributes"]["kernspan.async"], true) << s.dump();
    tids.insert(s["tid"].get<int>());
  }
  EXPECT_EQ(jobs.size(), 200u);
  EXPECT_EQ(*jobs.begin(), 1000);
  EXPECT_EQ(tids.size(), 1u) << "every span ends on the consumer thread";
  EXPECT_NE(r.ks_out.find("usdt hits: kernspan:job_start=200 kernspan:job_done=200"),
            std::string::npos)
      << r.ks_out;
}

class PairErrors : public ReadyProgTest {
protected:
  PairErrors() : ReadyProgTest({ASYNC_BIN}) {}
  void expect_error(const std::string &flag, const std::string &spec, const std::string &needle) {
    const auto r =
        run({KERNSPAN_BIN, "trace", "-p", std::to_string(prog_.pid), flag, spec, "-d", "1", "-q"});
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
};

TEST_F(PairErrors, BadSyntaxPointsAtTheCharacter) {
  expect_error("--span", "kernspan:job_start",
               "missing '..' between the begin and end probes at "
               "character 19");
  expect_error("--span", "kernspan:job_start..kernspan:job_done,colour=arg0",
               "unknown key 'colour' at character 39");
  expect_error("--span", "kernspan:job_start..kernspan:job_done,attr.x=argz",
               "expected an argument number after 'arg' at character 49");
  expect_error("--usdt", "job_start", "missing ':' in probe 'job_start' at character 10");
}

TEST_F(PairErrors, ArgumentIndexOutOfRange) {
  expect_error("--span", "kernspan:job_start..kernspan:job_done,name=arg2",
               "arg2 is out of range: kernspan:job_start has 2 argument(s) (arg0..arg1)");
}

TEST_F(PairErrors, ProbeNotFoundInAnyObject) {
  expect_error("--span", "kernspan:job_start..kernspan:nope",
               "USDT probe kernspan:nope not found in any of the");
}

} // namespace
} // namespace kernspan::itest
