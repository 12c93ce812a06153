// SPDX-License-Identifier: Apache-2.0
// Running an independent checker (node scripts) from a unit test.
#pragma once

#include <cstdio>
#include <string>

namespace kernspan::testing {

// stdout of a shell command; *status is what pclose returned (0: success).
inline std::string run_command(const std::string &cmd, int *status) {
  FILE *p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n = 0;
  while (p != nullptr && (n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    out.append(buf, n);
  }
  *status = p != nullptr ? pclose(p) : -1;
  return out;
}

} // namespace kernspan::testing
