// SPDX-License-Identifier: Apache-2.0
// Helpers for integration tests: start processes, wait, read JSON Lines.
#pragma once

#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace kernspan::itest {

// Skip (off root only) with the reason; as root this never skips.
#define KS_REQUIRE_ROOT()                                                                          \
  do {                                                                                             \
    if (geteuid() != 0) {                                                                          \
      GTEST_SKIP() << "needs root to load BPF programs (run the suite with sudo)";                 \
    }                                                                                              \
  } while (0)

struct Proc {
  pid_t pid = -1;
  std::string out_path; // stdout captured here
  std::string err_path; // stderr captured here
};

// fork+exec argv with stdout/stderr captured into temp files.
Proc spawn(const std::vector<std::string> &argv);
// Wait for exit; returns the exit status (128+sig if killed), -1 on timeout
// (the process is then killed).
int wait_exit(Proc &p, int timeout_ms);
std::string slurp(const std::string &path);
// Wait until `path` contains `needle` (or the process exits); true if found.
bool wait_for_text(const Proc &p, const std::string &path, const std::string &needle,
                   int timeout_ms);
std::vector<nlohmann::json> read_jsonl(const std::string &path);
// The JSON document in `path`; null if the file is empty or missing.
nlohmann::json read_json(const std::string &path);
// How many spans (JSON Lines records) there are of each name.
std::map<std::string, size_t> count_by_name(const std::vector<nlohmann::json> &spans);
std::string temp_path(const std::string &stem);

// Run to completion and return {status, stdout, stderr}.
struct Result {
  int status;
  std::string out;
  std::string err;
};
Result run(const std::vector<std::string> &argv, int timeout_ms = 30000);

// A program that prints "ready" on stdout and then waits for SIGUSR1, traced
// by kernspan from before the signal to the end.
struct ReadyRun {        // NOLINT(bugprone-exception-escape): test data
  Proc prog;             // the program: its pid and captured output
  bool attached = false; // kernspan said "attached"; if not, the program was killed
  int prog_status = -1;
  int ks_status = -1;
  std::string ks_out;
  std::string ks_err;
};
// Runs kernspan with the arguments `ks_argv` makes for the program's pid
// (it may write a configuration file first). A program that never says
// "ready" is a test failure here; a kernspan that does not attach is the
// caller's to judge (some tests expect it to refuse).
ReadyRun trace_ready(const std::vector<std::string> &prog_argv,
                     const std::function<std::vector<std::string>(pid_t)> &ks_argv,
                     int ks_exit_ms = 10000);
// The same with `kernspan trace -p PID ks_args...`.
ReadyRun trace_ready(const std::vector<std::string> &prog_argv,
                     const std::vector<std::string> &ks_args, int ks_exit_ms = 10000);

// A fixture (root only) whose program `argv` is started and ready (it waits
// for SIGUSR1, which it never gets) for each test, and killed after it.
class ReadyProgTest : public ::testing::Test {
protected:
  explicit ReadyProgTest(std::vector<std::string> argv) : argv_(std::move(argv)) {}
  void SetUp() override;
  void TearDown() override;
  Proc prog_;

private:
  std::vector<std::string> argv_;
};

} // namespace kernspan::itest
