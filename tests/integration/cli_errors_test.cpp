// SPDX-License-Identifier: Apache-2.0
// Bad input gets one line that says what to do, and a non-zero exit.
#include "harness.hpp"

#include <chrono>
#include <csignal>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace kernspan::itest {
namespace {

size_t lines(const std::string &s) {
  size_t n = 0;
  for (char c : s) {
    n += c == '\n' ? 1 : 0;
  }
  return n;
}

// Wait (up to 10 s) until the dynamic loader of a process just exec'd has
// mapped libc: what kernspan searches for probes is then all in place.
bool wait_for_libc(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::string maps = "/proc/" + std::to_string(pid) + "/maps";
  while (slurp(maps).find("/libc.so") == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void expect_one_line_error(const Result &r, int status, const std::string &needle) {
  EXPECT_EQ(r.status, status) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("kernspan: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(CliErrors, UnknownPid) {
  // pid_max is at most 2^22, so this PID cannot exist.
  const auto r = run({KERNSPAN_BIN, "trace", "-p", "4194304"});
  expect_one_line_error(r, 1, "no process with PID 4194304");
}

TEST(CliErrors, UnknownFlag) {
  expect_one_line_error(run({KERNSPAN_BIN, "trace", "-p", "1", "--bogus"}), 2, "--bogus");
  expect_one_line_error(run({KERNSPAN_BIN, "trace"}), 2, "--pid");
  expect_one_line_error(run({KERNSPAN_BIN, "frobnicate"}), 2, "frobnicate");
}

// Sink flags are checked before anything else, so no root is needed here.
TEST(CliErrors, MalformedUrlsFailBeforeTracing) {
  expect_one_line_error(run({KERNSPAN_BIN, "trace", "-p", "1", "--zipkin", "localhost:9411"}), 1,
                        "bad URL 'localhost:9411': expected http://HOST[:PORT][/PATH]");
  expect_one_line_error(run({KERNSPAN_BIN, "trace", "-p", "1", "--zipkin", "http://h:99999"}), 1,
                        "port must be a number 1-65535");
  expect_one_line_error(
      run({KERNSPAN_BIN, "trace", "-p", "1", "--zipkin", "http://no-such-host.invalid"}), 1,
      "cannot resolve host 'no-such-host.invalid'");
  expect_one_line_error(run({KERNSPAN_BIN, "trace", "-p", "1", "--otlp", "ftp://h/"}), 1,
                        "scheme must be http or https");
  expect_one_line_error(run({KERNSPAN_BIN, "trace", "-p", "1", "--prometheus", "1.2.3:x"}), 1,
                        "bad listen address '1.2.3:x'");
}

TEST(CliErrors, ProcessWithoutProbesNamesWhatWasSearched) {
  KS_REQUIRE_ROOT();
  Proc sleeper = spawn({"/bin/sleep", "30"});
  ASSERT_TRUE(wait_for_libc(sleeper.pid));
  const auto r = run({KERNSPAN_BIN, "trace", "-p", std::to_string(sleeper.pid)});
  kill(sleeper.pid, SIGKILL);
  wait_exit(sleeper, 2000);
  expect_one_line_error(r, 1, "has no kernspan USDT probes; searched");
  EXPECT_NE(r.err.find("/sleep"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("libc.so"), std::string::npos) << r.err;
}

TEST(CliErrors, NotRootSaysWhatToDo) {
  KS_REQUIRE_ROOT(); // to drop privileges we must have them
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "10"});
  ASSERT_TRUE(wait_for_libc(demo.pid));
  const auto r = run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid)});
  kill(demo.pid, SIGTERM);
  wait_exit(demo, 5000);
  expect_one_line_error(r, 1, "needs root or CAP_BPF+CAP_PERFMON");
}

// The network exporters are a module (libkernspan-net.so) loaded only for
// --prometheus, --otlp or --zipkin: a plain trace maps neither it nor the
// libraries it brings (OpenSSL, protobuf); without the module those flags
// fail with one line, before anything is attached.
TEST(CliErrors, NetworkExportersAreLoadedOnlyWhenAskedFor) {
  KS_REQUIRE_ROOT();
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "10"});
  ASSERT_TRUE(wait_for_libc(demo.pid));
  const std::string pid = std::to_string(demo.pid);
  const auto maps_of = [&](const std::vector<std::string> &extra) {
    std::vector<std::string> argv = {KERNSPAN_BIN, "trace", "-p", pid, "-q", "-d", "5"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Proc ks = spawn(argv);
    EXPECT_TRUE(wait_for_text(ks, ks.err_path, "attached", 10000)) << slurp(ks.err_path);
    std::string maps = slurp("/proc/" + std::to_string(ks.pid) + "/maps");
    kill(ks.pid, SIGINT);
    EXPECT_EQ(wait_exit(ks, 5000), 0) << slurp(ks.err_path);
    return maps;
  };
  const std::string plain = maps_of({});
  EXPECT_EQ(plain.find("libkernspan-net"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("libcrypto"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("libprotobuf"), std::string::npos) << plain;
  const std::string net = maps_of({"--prometheus", "0"});
  EXPECT_NE(net.find("libkernspan-net.so"), std::string::npos) << net;

  // The binary alone, without its module.
  const std::string dir = temp_path("lonely");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  const std::string lonely = dir + "/kernspan";
  ASSERT_EQ(run({"/bin/cp", KERNSPAN_BIN, lonely}).status, 0);
  const auto r = run({lonely, "trace", "-p", pid, "--prometheus", "0", "-d", "1"});
  kill(demo.pid, SIGTERM);
  wait_exit(demo, 5000);
  unlink(lonely.c_str());
  rmdir(dir.c_str());
  expect_one_line_error(r, 1, "the network exporters are not installed");
  EXPECT_EQ(r.err.find("attached"), std::string::npos) << r.err;
}

// Values that would make a run that never stops, or one that holds GiBs of
// kernel memory, or a sink silently left out: refused at parse time (no
// root needed), with a readable range.
TEST(CliErrors, DurationMustBeAFinitePositiveNumberOfSeconds) {
  for (const char *d : {"nan", "inf", "-1", "0", "1e400", "10x", "31536001"}) {
    const auto r = run({KERNSPAN_BIN, "trace", "-p", "1", "-d", d});
    expect_one_line_error(r, 2, "above 0 and at most 31536000 (a year)");
    EXPECT_LT(r.err.size(), 200u) << r.err; // no 309-digit bound
  }
}

TEST(CliErrors, MaxStringIsBounded) {
  for (const char *n : {"0", "4097", "-1", "x", "12k", ""}) {
    expect_one_line_error(run({KERNSPAN_BIN, "trace", "-p", "1", "--max-string", n}), 2,
                          "is not a number of bytes from 1 to 4096");
  }
  expect_one_line_error(run({KERNSPAN_BIN, "serve", "-c", "/nonexistent", "--max-string", "0"}), 2,
                        "is not a number of bytes from 1 to 4096");
}

TEST(CliErrors, RingbufMbIsBounded) {
  for (const char *mb : {"4096", "0", "3", "-8", "x"}) {
    expect_one_line_error(run({KERNSPAN_BIN, "trace", "-p", "1", "--ringbuf-mb", mb}), 2,
                          "is not a power of two from 1 to 1024 (MiB of locked kernel memory");
  }
}

TEST(CliErrors, EmptySinkValuesAreRefused) {
  for (const char *flag : {"--prometheus", "--otlp", "--zipkin", "-o"}) {
    expect_one_line_error(run({KERNSPAN_BIN, "trace", "-p", "1", flag, ""}), 2,
                          "the value is empty: give ");
  }
}

// A file that cannot be written (here a full disk) loses spans: counted as
// spans, said once as it happens, and the run fails.
TEST(CliErrors, FullOutputFileCountsLostSpansAndFails) {
  KS_REQUIRE_ROOT();
  for (const std::string format : {"jsonl", "otlp-json", "chrome", "influx"}) {
    const std::string report = temp_path("full-report.json");
    Proc demo = spawn({DEMO_BIN, "--wait-for-tracer", "--report", report, "--requests", "300",
                       "--rate", "2000", "--linger-ms", "50"});
    Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q", "-o", "/dev/full",
                     "--format", format});
    EXPECT_EQ(wait_exit(demo, 60000), 0) << format;
    EXPECT_EQ(wait_exit(ks, 10000), 1) << format << ": " << slurp(ks.err_path);
    const std::string err = slurp(ks.err_path);
    const std::string line =
        "kernspan: cannot write /dev/full: No space left on device; spans are being dropped\n";
    const size_t at = err.find(line);
    EXPECT_NE(at, std::string::npos) << format << ": " << err;
    EXPECT_EQ(err.find(line, at + 1), std::string::npos) << format << ": said once\n" << err;
    // Every span was lost, and the drop counter says so in spans.
    const std::string out = slurp(ks.out_path);
    const std::string total = "spans: ";
    const size_t t = out.find(total);
    ASSERT_NE(t, std::string::npos) << out;
    const unsigned long spans = std::stoul(out.substr(t + total.size()));
    EXPECT_GT(spans, 300u) << out;
    std::string place = format == "otlp-json" ? "otlp_json" : format;
    place += "_write_failed=" + std::to_string(spans) + " ";
    EXPECT_NE(out.find(place), std::string::npos) << format << ": " << out;
  }
}

TEST(CliErrors, ListRejectsNonElf) {
  expect_one_line_error(run({KERNSPAN_BIN, "list", "--binary", "/etc/hostname"}), 1,
                        "is not an ELF object");
  expect_one_line_error(run({KERNSPAN_BIN, "list", "--binary", "/nonexistent/x"}), 1,
                        "cannot open /nonexistent/x");
}

TEST(List, BinaryShowsKernspanProbesWithSemaphoresOnFiveByteSites) {
  const auto r = run({KERNSPAN_BIN, "list", "--binary", DEMO_BIN});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char *probe : {"span_begin", "span_end", "span_begin_remote"}) {
    bool found = false;
    size_t pos = 0;
    while ((pos = r.out.find(std::string(" ") + probe + " ", pos)) != std::string::npos) {
      const size_t bol = r.out.rfind('\n', pos) + 1;
      const std::string line = r.out.substr(bol, r.out.find('\n', pos) - bol);
      EXPECT_NE(line.find("kernspan"), std::string::npos) << line;
      EXPECT_NE(line.find("0x"), std::string::npos) << "semaphore: " << line;
      EXPECT_NE(line.find("nop5"), std::string::npos) << "5-byte site: " << line;
      EXPECT_NE(line.find("8@"), std::string::npos) << "arguments: " << line;
      found = true;
      pos++;
    }
    EXPECT_TRUE(found) << probe << " missing in\n" << r.out;
  }
}

TEST(List, ProcessListsItsObjects) {
  Proc demo = spawn({DEMO_BIN, "--requests", "0", "--rate", "10"});
  ASSERT_TRUE(wait_for_libc(demo.pid));
  const auto r = run({KERNSPAN_BIN, "list", "-p", std::to_string(demo.pid)});
  kill(demo.pid, SIGTERM);
  wait_exit(demo, 5000);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("demo_service"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("span_begin"), std::string::npos) << r.out;
}

} // namespace
} // namespace kernspan::itest
