// SPDX-License-Identifier: Apache-2.0
// Helpers for integration tests: start processes, wait, read JSON Lines.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <unistd.h>
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
std::string temp_path(const std::string &stem);

// Run to completion and return {status, stdout, stderr}.
struct Result {
  int status;
  std::string out;
  std::string err;
};
Result run(const std::vector<std::string> &argv, int timeout_ms = 30000);

} // namespace kernspan::itest
