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

// testprog_strings.cpp's s(L): "x", U+00E9 (C3 A9) repeated, "y" when L is
// even; its characters end at the odd offsets (and L).
std::string strs_value(size_t len) {
  std::string s = "x";
  while (s.size() + 2 <= len) {
    s += "\xC3\xA9";
  }
  if (s.size() < len) {
    s += "y";
  }
  return s;
}

// What kernspan must show of s(L) with --max-string n: all of it, or the
// longest whole-character prefix of at most n bytes (n is even in these
// runs: a character straddles it, so n - 1 bytes), then U+2026.
std::string strs_shown(size_t len, size_t n) {
  std::string s = strs_value(len);
  if (len <= n) {
    return s;
  }
  return s.substr(0, n % 2 == 1 ? n : n - 1) + "\xE2\x80\xA6";
}

// Strings of 63..4096 bytes as a --span name and as string attributes read
// at the begin (kept until the end) and at the end, an unmapped pointer and
// an integer as the name, and a header span's 300-byte name: each shown
// whole or cut at a character boundary with U+2026, and the cuts and the
// unreadable strings counted exactly.
void check_strings(const std::vector<std::string> &extra, size_t n, size_t truncated) {
  std::vector<std::string> args = {
      "--span", "strs:begin..strs:end,name=arg0,attr.b=str(arg1),attr.e=str(end.arg0)"};
  args.insert(args.end(), extra.begin(), extra.end());
  const PairRun r = trace_pairs({STRINGS_BIN}, args);
  ASSERT_EQ(r.prog_status, 0);
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  ASSERT_EQ(r.spans.size(), 10u) << r.ks_out;
  std::map<std::string, json> by_b; // pair spans by their attribute b
  std::map<std::string, size_t> got;
  // Binary bytes reach the sink as read, which escapes the control byte
  // and replaces the invalid one with U+FFFD (RFC 8259 JSON holds UTF-8).
  const std::string binary = "a\x01\xEF\xBF\xBD"
                             "b";
  std::map<std::string, size_t> want = {{"", 1}, {"int", 1}, {binary, 1}};
  const json *header = nullptr;
  for (const auto &s : r.spans) {
    if (s["attributes"].contains("b")) {
      by_b[s["attributes"]["b"].get<std::string>()] = s;
      got[s["attributes"]["b"].get<std::string>()]++;
    } else {
      header = &s;
    }
  }
  for (const size_t len : {63, 64, 255, 256, 257, 4096}) {
    want[strs_shown(len, n)]++;
  }
  EXPECT_EQ(got, want); // cut values of different lengths may be equal
  for (const size_t len : {63, 64, 255, 256, 257, 4096}) {
    const std::string shown = strs_shown(len, n);
    ASSERT_TRUE(by_b.count(shown)) << "L=" << len;
    const json &s = by_b.at(shown);
    EXPECT_EQ(s["name"], shown) << "L=" << len;
    EXPECT_EQ(s["attributes"]["e"], shown) << "L=" << len;
  }
  ASSERT_TRUE(by_b.count("")) << "the unmapped attribute";
  EXPECT_EQ(by_b.at("")["name"], "unmapped");
  EXPECT_EQ(by_b.at("")["attributes"]["e"], "e");
  ASSERT_TRUE(by_b.count("int"));
  EXPECT_EQ(by_b.at("int")["name"], "<unreadable name>");
  EXPECT_EQ(by_b.at("int")["attributes"]["e"], "e");
  ASSERT_TRUE(by_b.count(binary));
  EXPECT_EQ(by_b.at(binary)["name"], "binary");
  ASSERT_NE(header, nullptr);
  EXPECT_EQ((*header)["name"],
            n >= 300 ? std::string(300, 'h') : std::string(n, 'h') + "\xE2\x80\xA6");
  const std::string t = "string_truncated=" + std::to_string(truncated) + " ";
  EXPECT_NE(r.ks_out.find(t), std::string::npos) << t << "\n" << r.ks_out;
  EXPECT_NE(r.ks_out.find("string_unreadable=2 "), std::string::npos) << r.ks_out;
  EXPECT_NE(r.ks_out.find("string_unstored=0 "), std::string::npos) << r.ks_out;
}

TEST(Pairs, StringsAreKeptUpToTheDefaultAndCutVisibly) {
  KS_REQUIRE_ROOT();
  // Cut: s(257) and s(4096), each as name, b and e (6), and the header
  // span's name.
  check_strings({}, 256, 7);
}

TEST(Pairs, StringsAreKeptWholeUpToMaxString4096) {
  KS_REQUIRE_ROOT();
  check_strings({"--max-string", "4096"}, 4096, 0);
}

TEST(Pairs, StringsAreCutAtASmallMaxString) {
  KS_REQUIRE_ROOT();
  // n = 64: every s(L) above 64 bytes (255, 256, 257, 4096) three times,
  // and the header span's name.
  check_strings({"--max-string", "64"}, 64, 13);
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
