// SPDX-License-Identifier: Apache-2.0
// kernspan syscalls against a program that makes a known number of
// syscalls, and against libbpf-tools' syscount on the same run.
#include "harness.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>

namespace kernspan::itest {
namespace {

// The last JSON line of kernspan syscalls --json: the totals.
nlohmann::json totals(const std::string &out) {
  std::istringstream in(out);
  nlohmann::json last;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '{') {
      last = nlohmann::json::parse(line);
    }
  }
  return last;
}

const nlohmann::json *find_syscall(const nlohmann::json &t, const std::string &name) {
  for (const auto &s : t["syscalls"]) {
    if (s["name"] == name) {
      return &s;
    }
  }
  return nullptr;
}

// syscount's table line "NAME COUNT" for `name`, or -1.
long syscount_count(const std::string &out, const std::string &name) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string n;
    long c = -1;
    if (f >> n >> c && n == name) {
      return c;
    }
  }
  return -1;
}

TEST(Syscalls, ExactCountsAndErrnosAgreeWithSyscount) {
  KS_REQUIRE_ROOT();
  constexpr long kGetppid = 12345;
  constexpr long kFailedOpen = 321;
  Proc peer{};
  bool peer_ready = false;
  const ReadyRun r = trace_ready(
      {SYSCALLS_BIN, std::to_string(kGetppid), std::to_string(kFailedOpen)}, [&](pid_t pid) {
        // syscount attaches through tracefs, which may not be mounted here:
        // mount it in a mount namespace of its own. Line-buffered, so that
        // its "Tracing" line shows before it exits.
        peer = spawn(
            {"/usr/bin/unshare", "-m", "/bin/sh", "-c",
             "mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; exec /usr/bin/stdbuf -oL "
             "/usr/sbin/syscount -p " +
                 std::to_string(pid)});
        peer_ready = wait_for_text(peer, peer.out_path, "Tracing", 20000);
        return std::vector<std::string>{"syscalls", "-p", std::to_string(pid),
                                        "--json",   "-n", "50"};
      });
  ASSERT_TRUE(r.attached) << r.ks_err;
  EXPECT_EQ(r.prog_status, 0);
  EXPECT_EQ(r.ks_status, 0) << r.ks_err;
  kill(peer.pid, SIGINT);
  EXPECT_EQ(wait_exit(peer, 10000), 0) << slurp(peer.err_path);
  const nlohmann::json t = totals(r.ks_out);
  ASSERT_FALSE(t.is_null()) << r.ks_out;
  const auto *getppid = find_syscall(t, "getppid");
  ASSERT_NE(getppid, nullptr) << r.ks_out;
  EXPECT_EQ((*getppid)["count"], kGetppid);
  EXPECT_EQ((*getppid)["errors"], 0);
  uint64_t in_hist = 0;
  for (const auto &n : (*getppid)["hist"]) {
    in_hist += n.get<uint64_t>();
  }
  EXPECT_EQ(in_hist, static_cast<uint64_t>(kGetppid)) << "every call in one histogram slot";
  const auto *openat = find_syscall(t, "openat");
  ASSERT_NE(openat, nullptr) << r.ks_out;
  EXPECT_EQ((*openat)["errors"], kFailedOpen);
  EXPECT_EQ((*openat)["errnos"]["ENOENT"], kFailedOpen);
  EXPECT_EQ(t["dropped"]["stats_full"], 0);
  // The peer, on the same run.
  ASSERT_TRUE(peer_ready) << slurp(peer.err_path);
  const std::string peer_out = slurp(peer.out_path);
  EXPECT_EQ(syscount_count(peer_out, "getppid"), kGetppid) << peer_out;
  EXPECT_EQ(syscount_count(peer_out, "openat"), (*openat)["count"].get<long>()) << peer_out;
}

TEST(Syscalls, RefusesAPidThatDoesNotExist) {
  KS_REQUIRE_ROOT();
  const Result r = run({KERNSPAN_BIN, "syscalls", "-p", "4194304", "-d", "1"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no process with PID 4194304"), std::string::npos) << r.err;
}

} // namespace
} // namespace kernspan::itest
