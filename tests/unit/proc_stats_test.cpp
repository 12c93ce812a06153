// SPDX-License-Identifier: Apache-2.0
#include "probe/proc_stats.hpp"

#include <fstream>
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
  EXPECT_EQ(u.rss_bytes, 24u * 4096);   // field 24, pages
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

TEST(ProcStats, ParsesCgroupAndMemoryLimits) {
  EXPECT_EQ(parse_cgroup_v2_path("0::/system.slice/app.service\n"), "/system.slice/app.service");
  EXPECT_EQ(parse_cgroup_v2_path("12:memory:/x\n0::/\n"), "/");
  EXPECT_FALSE(parse_cgroup_v2_path("12:memory:/x\n").has_value()) << "v1 only";
  EXPECT_EQ(parse_memory_max("536870912\n"), 536870912u);
  EXPECT_FALSE(parse_memory_max("max\n").has_value());
  EXPECT_FALSE(parse_memory_max("").has_value());
  EXPECT_FALSE(parse_memory_max("12abc").has_value());
  EXPECT_EQ(parse_meminfo_total("MemTotal:       24000000 kB\nMemFree: 1 kB\n"),
            24000000ull * 1024);
  EXPECT_EQ(parse_meminfo_total("MemFree: 1 kB\nMemTotal: 2 kB\n"), 2048u);
  EXPECT_FALSE(parse_meminfo_total("MemFree: 1 kB\n").has_value());
}

TEST(ProcStats, ReadsOurOwnProcess) {
  const auto u = read_process_usage(getpid());
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->pid, static_cast<uint32_t>(getpid()));
  // Oracle: the kernel's own figures, read apart from our parser.
  std::ifstream status("/proc/self/status");
  uint64_t vmrss_kb = 0;
  for (std::string key; status >> key;) {
    if (key == "VmRSS:") {
      status >> vmrss_kb;
    }
  }
  EXPECT_GT(u->rss_bytes, 0u);
  EXPECT_NEAR(static_cast<double>(u->rss_bytes), static_cast<double>(vmrss_kb * 1024),
              16.0 * 1024 * 1024);
  EXPECT_GT(u->memory_limit_bytes, 0u);
  EXPECT_LE(u->memory_limit_bytes, static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                                       static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) * 2);
  EXPECT_FALSE(read_process_usage(4194304).has_value()) << "no such PID (above pid_max)";
}

} // namespace
} // namespace kernspan::probe
