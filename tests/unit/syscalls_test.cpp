// SPDX-License-Identifier: Apache-2.0
#include "core/syscalls.hpp"
#include "exporters/syscalls_view.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/syscall.h>

namespace kernspan {
namespace {

TEST(Syscalls, NamesComeFromTheKernelTable) {
  // Oracle: glibc's <sys/syscall.h>, read apart from the generated table.
  EXPECT_EQ(core::syscall_name(SYS_getppid), "getppid");
  EXPECT_EQ(core::syscall_name(SYS_openat), "openat");
  EXPECT_EQ(core::syscall_name(SYS_read), "read");
  EXPECT_EQ(core::syscall_number("clone3"), SYS_clone3);
  EXPECT_EQ(core::syscall_number("no_such_call"), -1);
  EXPECT_EQ(core::syscall_name(100000), "syscall_100000");
}

core::SyscallSnapshot snapshot(uint64_t getppid, uint64_t failed_open) {
  core::SyscallSnapshot s;
  auto &g = s.by_nr[SYS_getppid];
  g.count = getppid;
  g.total_ns = getppid * 300;
  g.hist[8] = getppid; // [256, 512) ns
  auto &o = s.by_nr[SYS_openat];
  o.count = failed_open + 1;
  o.errors = failed_open;
  o.errnos[2] = failed_open;
  o.total_ns = o.count * 2000;
  o.hist[10] = o.count;
  return s;
}

TEST(Syscalls, DeltaIsPerIntervalAndLeavesIdleCallsOut) {
  const auto before = snapshot(10, 3);
  auto now = snapshot(25, 3);
  const auto d = core::syscall_delta(now, before);
  ASSERT_EQ(d.by_nr.size(), 1u) << "openat made no call in between";
  EXPECT_EQ(d.by_nr.at(SYS_getppid).count, 15u);
  EXPECT_EQ(d.by_nr.at(SYS_getppid).hist[8], 15u);
  EXPECT_EQ(d.by_nr.at(SYS_getppid).total_ns, 15u * 300);
  now.by_nr[SYS_openat].count += 2;
  now.by_nr[SYS_openat].errors += 2;
  now.by_nr[SYS_openat].errnos[2] += 1;
  now.by_nr[SYS_openat].errnos[13] = 1;
  const auto d2 = core::syscall_delta(now, before);
  EXPECT_EQ(d2.by_nr.at(SYS_openat).errors, 2u);
  EXPECT_EQ(d2.by_nr.at(SYS_openat).errnos.at(2), 1u);
  EXPECT_EQ(d2.by_nr.at(SYS_openat).errnos.at(13), 1u);
}

TEST(Syscalls, TableJsonAndBars) {
  const auto s = snapshot(1000, 5);
  const std::string table = exporters::render_syscall_table(s, 10, 2.0);
  EXPECT_NE(table.find("getppid"), std::string::npos) << table;
  EXPECT_NE(table.find("5 (ENOENT=5)"), std::string::npos) << table;
  EXPECT_LT(table.find("getppid"), table.find("openat")) << "most calls first";
  EXPECT_EQ(exporters::render_syscall_table(s, 1, 2.0).find("openat"), std::string::npos);

  const auto j = nlohmann::json::parse(exporters::render_syscall_json(s, 10, 2.0));
  ASSERT_EQ(j["syscalls"].size(), 2u);
  EXPECT_EQ(j["syscalls"][0]["name"], "getppid");
  EXPECT_EQ(j["syscalls"][0]["count"], 1000);
  EXPECT_EQ(j["syscalls"][0]["hist"].size(), 9u) << "up to the last non-empty slot";
  EXPECT_EQ(j["syscalls"][1]["errnos"]["ENOENT"], 5);

  std::array<uint64_t, core::kSyscallSlots> h{};
  h[8] = 40;
  h[9] = 10;
  const std::string bars = exporters::render_log2_bars(h);
  EXPECT_EQ(std::count(bars.begin(), bars.end(), '\n'), 2) << bars;
  EXPECT_NE(bars.find(std::string(40, '@')), std::string::npos) << bars;
  EXPECT_NE(bars.find("|" + std::string(10, '@') + std::string(30, ' ') + "|"), std::string::npos)
      << bars;
  EXPECT_EQ(bars.substr(0, bars.find(' ')), "[256,") << bars;
  EXPECT_NE(bars.find("[512, 1K)"), std::string::npos) << bars;
  EXPECT_EQ(exporters::render_log2_bars(std::array<uint64_t, 4>{}), "");
  EXPECT_EQ(exporters::errno_name(2), "ENOENT");
}

} // namespace
} // namespace kernspan
