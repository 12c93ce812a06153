// SPDX-License-Identifier: Apache-2.0
#include "probe/proc_stats.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace kernspan::probe {
namespace {

// A comm with spaces and parentheses, then fields 3..52 where field N holds
// N (utime=14, stime=15, delayacct_blkio_ticks=42).
std::string stat_line() {
  std::string s = "1200 (my (odd) app) ";
  for (int field = 3; field <= 52; field++) {
    s += (field == 3 ? "S" : std::to_string(field)) + (field < 52 ? " " : "\n");
  }
  return s;
}

TEST(ProcStats, ParsesStatAfterTheLastParenthesis) {
  core::ProcessUsage u;
  ASSERT_TRUE(parse_proc_stat(stat_line(), 100, u));
  EXPECT_EQ(u.user_ns, 140'000'000u);   // 14 ticks at 100 Hz
  EXPECT_EQ(u.system_ns, 150'000'000u); // 15 ticks
  EXPECT_EQ(u.blkio_ns, 420'000'000u);  // 42 ticks
  EXPECT_FALSE(parse_proc_stat("1200 (x) S 1 2 3", 100, u)) << "too short";
  EXPECT_FALSE(parse_proc_stat("", 100, u));
}

TEST(ProcStats, ParsesIoAndSchedstat) {
  core::ProcessUsage u;
  EXPECT_TRUE(parse_proc_io("rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\n"
                            "write_bytes: 8192\ncancelled_write_bytes: 0\n",
                            u));
  EXPECT_EQ(u.read_bytes, 4096u);
  EXPECT_EQ(u.write_bytes, 8192u);
  EXPECT_FALSE(parse_proc_io("rchar: 10\n", u));
  EXPECT_EQ(parse_schedstat_wait("123456 7890 12\n"), 7890u);
  EXPECT_FALSE(parse_schedstat_wait(""));
}

TEST(ProcStats, ReadsOurOwnProcess) {
  const auto u = read_process_usage(getpid());
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->pid, static_cast<uint32_t>(getpid()));
  EXPECT_FALSE(read_process_usage(4194304).has_value()) << "no such PID (above pid_max)";
}

} // namespace
} // namespace kernspan::probe
