// SPDX-License-Identifier: Apache-2.0
// Span costs end to end: testprog_costs runs spans whose costs it knows
// (CPU burnt, sleep, bytes read and sent), kernspan traces it, and each
// span's `costs` must agree with the program's own measurements.
#include "harness.hpp"
#include "net.hpp"

#include <algorithm>
#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace kernspan::itest {
namespace {

using nlohmann::json;

struct CostRun { // NOLINT(bugprone-exception-escape): test data
  int prog_status = -1;
  int ks_status = -1;
  std::string ks_err;
  std::string ks_out;
  json report;
  std::multimap<std::string, json> spans; // by name
};

CostRun trace_testprog(const std::vector<std::string> &extra_flags,
                       const std::vector<std::string> &prog_flags = {}) {
  CostRun r;
  const std::string report = temp_path("costs-report.json");
  const std::string out = temp_path("costs-spans.jsonl");
  std::vector<std::string> pargv = {COSTS_BIN, "--report", report};
  pargv.insert(pargv.end(), prog_flags.begin(), prog_flags.end());
  Proc prog = spawn(pargv);
  std::vector<std::string> argv = {KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid),
                                   "-o",         out,     "-q"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  Proc ks = spawn(argv);
  r.prog_status = wait_exit(prog, 60000);
  r.ks_status = wait_exit(ks, 10000);
  r.ks_err = slurp(ks.err_path);
  r.ks_out = slurp(ks.out_path);
  r.report = read_json(report);
  for (const auto &s : read_jsonl(out)) {
    r.spans.emplace(s["name"].get<std::string>(), s);
  }
  return r;
}

uint64_t cost(const json &span, const char *key) {
  return span.at("costs").at(key).get<uint64_t>();
}

uint64_t duration(const json &s) {
  return s["end_unix_nano"].get<uint64_t>() - s["start_unix_nano"].get<uint64_t>();
}

const json &only(const CostRun &r, const std::string &name) {
  EXPECT_EQ(r.spans.count(name), 1u) << name;
  static const json empty = json::object();
  const auto it = r.spans.find(name);
  return it != r.spans.end() ? it->second : empty;
}

// Every span: off-CPU is exactly its split, and on- plus off-CPU time covers
// the span's wall time (to 1 ms + 1%).
void expect_consistent(const json &s) {
  const uint64_t off = cost(s, "offcpu_ns");
  EXPECT_EQ(off, cost(s, "runq_ns") + cost(s, "io_wait_ns") + cost(s, "sleep_ns")) << s.dump();
  const double wall = static_cast<double>(duration(s));
  const double sum = static_cast<double>(cost(s, "cpu_ns") + off);
  EXPECT_NEAR(sum, wall, 1e6 + wall * 0.01) << s.dump();
}

// Woken, then kept waiting 50 ms by a SCHED_FIFO thread on its CPU: the
// wait after the wakeup is run-queue time, as the kernel's schedstat
// run_delay counts it; the wait before it is sleep.
void expect_woken_waits_in_runq(const CostRun &r) {
  const json &w = only(r, "woken");
  const auto run_delay = r.report.at("woken_run_delay_ns").get<double>();
  EXPECT_GE(run_delay, 45e6);
  EXPECT_NEAR(static_cast<double>(cost(w, "runq_ns")), run_delay, 2e6 + run_delay * 0.05)
      << w.dump();
  EXPECT_GE(cost(w, "sleep_ns"), 15'000'000u) << w.dump();
}

// A span's CPU time against the thread's own CPU clock (the kernel's
// accounting, as kernspan's is) read just before its begin and just after
// its end: never more, and less only by the probes' own time at the edges
// and the clock read at the span's ends (1% + 50 us).
void expect_cpu_of_own_clock(const json &s, uint64_t own) {
  const uint64_t cpu = cost(s, "cpu_ns");
  EXPECT_LE(cpu, own) << s.dump();
  EXPECT_GE(static_cast<double>(cpu), static_cast<double>(own) * 0.99 - 50e3)
      << "own " << own << ": " << s.dump();
}

// Two threads on one CPU switching to each other 20000 times each: an
// error per switch would add up here. Each span's CPU time agrees with the
// thread's own CPU clock.
void expect_pingpong_cpu(const CostRun &r) {
  ASSERT_EQ(r.spans.count("pingpong"), 2u);
  for (auto [it, end] = r.spans.equal_range("pingpong"); it != end; ++it) {
    const json &s = it->second;
    const json &own = r.report.at("pingpong_" + std::to_string(s["tid"].get<int>()));
    expect_cpu_of_own_clock(s, own.at("thread_cpu_ns").get<uint64_t>());
    // Off at each hand-over: blocked in read(), or preempted by the
    // thread its write() woke.
    EXPECT_GE(cost(s, "ctxsw_voluntary") + cost(s, "ctxsw_involuntary"), 19000u) << s.dump();
  }
}

void check_run(const CostRun &r) {
  ASSERT_EQ(r.prog_status, 0) << r.ks_err;
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  ASSERT_FALSE(r.report.is_null());
  for (const auto &[name, s] : r.spans) {
    ASSERT_TRUE(s.contains("costs")) << s.dump();
    expect_consistent(s);
  }

  // ~200 ms of CPU, as the thread's own CPU clock counts it.
  const auto own = r.report["burn_thread_cpu_ns"].get<uint64_t>();
  EXPECT_GE(own, 200'000'000u);
  expect_cpu_of_own_clock(only(r, "burn"), own);

  // 100 ms of sleep: off CPU, voluntarily.
  const json &sleep = only(r, "sleep");
  EXPECT_GE(cost(sleep, "sleep_ns"), 95'000'000u) << sleep.dump();
  EXPECT_LT(cost(sleep, "cpu_ns"), 2'000'000u) << sleep.dump();
  EXPECT_GE(cost(sleep, "ctxsw_voluntary"), 1u) << sleep.dump();
  EXPECT_GE(cost(sleep, "syscalls"), 1u) << sleep.dump();
  EXPECT_GE(cost(sleep, "syscall_ns"), 95'000'000u) << sleep.dump();

  // 20 getppid calls per span: exactly 20 syscalls. Hot 5-byte NOP probe
  // sites enter the kernel through the uprobe syscall, not the program's.
  size_t syscall_spans = 0;
  for (auto [it, end] = r.spans.equal_range("syscalls"); it != end; ++it) {
    syscall_spans++;
    EXPECT_EQ(cost(it->second, "syscalls"), 20u) << it->second.dump();
  }
  EXPECT_EQ(syscall_spans, 50u);

  // 10 self-signals with a handler: 10 tgkill and 10 rt_sigreturn.
  EXPECT_EQ(cost(only(r, "signals"), "syscalls"), 20u) << only(r, "signals").dump();

  // 4 MiB read to EOF: exactly its size (the final read returns 0).
  const json &rf = only(r, "read_file");
  EXPECT_EQ(r.report["read_file_bytes"].get<uint64_t>(), 4194304u);
  EXPECT_EQ(cost(rf, "read_bytes"), 4194304u) << rf.dump();
  EXPECT_EQ(cost(rf, "write_bytes"), 0u) << rf.dump();
  EXPECT_EQ(cost(rf, "net_rx_bytes"), 0u) << "a file is not the network";

  // 1 MiB over loopback TCP: the sender's write()s return 1 MiB in total,
  // the peer's read()s too, and both pass through sock_sendmsg/recvmsg.
  const json &tx = only(r, "tcp_send");
  const json &rx = only(r, "tcp_recv");
  EXPECT_EQ(r.report["tcp_received"].get<uint64_t>(), 1048576u);
  EXPECT_GE(cost(tx, "net_tx_bytes"), 1048576u) << tx.dump();
  EXPECT_GE(cost(tx, "write_bytes"), 1048576u) << tx.dump();
  EXPECT_GE(cost(rx, "net_rx_bytes"), 1048576u) << rx.dump();
  EXPECT_GE(cost(rx, "read_bytes"), 1048576u) << rx.dump();
  EXPECT_EQ(rx["tid"].get<int>(), r.report["peer_tid"].get<int>());
  EXPECT_NE(rx["tid"], tx["tid"]);

  // Parents include their children, field by field.
  const json &parent = only(r, "parent");
  const json &cb = only(r, "child_burn");
  const json &cs = only(r, "child_sleep");
  for (const auto &[key, v] : parent["costs"].items()) {
    EXPECT_GE(v.get<uint64_t>(),
              cb["costs"][key].get<uint64_t>() + cs["costs"][key].get<uint64_t>())
        << key;
  }
  EXPECT_GE(cost(parent, "cpu_ns"), 30'000'000u);
  EXPECT_GE(cost(parent, "sleep_ns"), 19'000'000u);

  expect_woken_waits_in_runq(r);
  expect_pingpong_cpu(r);
}

TEST(Costs, SpansCarryWhatTheyCost) {
  KS_REQUIRE_ROOT();
  const CostRun r = trace_testprog({});
  check_run(r);
  EXPECT_NE(r.ks_out.find("sleep"), std::string::npos) << "summary has cost columns";
}

// Two CPU-bound threads pinned to one CPU take turns, with a CPU hog on
// every CPU (testprog_costs --hog): while one runs the others wait in the
// run queue, so each one's runq_ns is at least about the CPU time of the
// other (150 ms, as its own). Its CPU time is the thread's own CPU clock,
// under this contention too. The wait is checked against the kernel's own
// count of it, schedstat's run_delay, read by the thread around the span,
// plus the time the thread was on CPU but not charged for it (stolen by a
// hypervisor): for a thread that never sleeps, its wall time less its CPU
// time and run_delay.
TEST(Costs, PinnedThreadsWaitInTheRunQueue) {
  KS_REQUIRE_ROOT();
  const CostRun r = trace_testprog({}, {"--hog"});
  ASSERT_EQ(r.prog_status, 0);
  ASSERT_EQ(r.spans.count("contend"), 2u);
  expect_cpu_of_own_clock(only(r, "burn"), r.report["burn_thread_cpu_ns"].get<uint64_t>());
  auto range = r.spans.equal_range("contend");
  for (auto it = range.first; it != range.second; ++it) {
    const json &s = it->second;
    const json &own = r.report.at("contend_" + std::to_string(s["tid"].get<int>()));
    expect_consistent(s);
    expect_cpu_of_own_clock(s, own["thread_cpu_ns"].get<uint64_t>());
    const double cpu = static_cast<double>(cost(s, "cpu_ns"));
    const double runq = static_cast<double>(cost(s, "runq_ns"));
    const auto own_cpu = static_cast<double>(own["thread_cpu_ns"].get<uint64_t>());
    const auto wall = static_cast<double>(own["wall_ns"].get<uint64_t>());
    const auto run_delay = static_cast<double>(own["run_delay_ns"].get<uint64_t>());
    const double stolen = std::max(0.0, wall - own_cpu - run_delay);
    EXPECT_GE(runq, 0.8 * cpu) << s.dump();
    EXPECT_NEAR(runq, run_delay + stolen, 2e6 + run_delay * 0.05) << s.dump() << own.dump();
    // CPU-bound: it hardly sleeps (a lock in the uprobe path may block it
    // briefly when both threads hit their probes at once).
    EXPECT_LT(cost(s, "sleep_ns") + cost(s, "io_wait_ns"), 1'000'000u) << s.dump();
    EXPECT_GE(cost(s, "ctxsw_involuntary"), 1u) << s.dump();
  }
}

// The raw_tp fallback: switch-ins and wakeups applied lazily, by the thread.
TEST(Costs, RawTracepointFallbackMeasuresCpuAndBytes) {
  KS_REQUIRE_ROOT();
  const CostRun r = trace_testprog({"--raw-tp"});
  ASSERT_EQ(r.prog_status, 0) << r.ks_err;
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  EXPECT_NE(r.ks_err.find("[raw_tp]"), std::string::npos) << r.ks_err;
  const json &burn = only(r, "burn");
  const auto own = r.report["burn_thread_cpu_ns"].get<uint64_t>();
  EXPECT_NEAR(static_cast<double>(cost(burn, "cpu_ns")), static_cast<double>(own),
              static_cast<double>(own) * 0.05)
      << burn.dump();
  EXPECT_EQ(cost(only(r, "read_file"), "read_bytes"), 4194304u);
  EXPECT_GE(cost(only(r, "sleep"), "sleep_ns"), 95'000'000u);
  for (const auto &[name, s] : r.spans) {
    expect_consistent(s);
  }
  expect_woken_waits_in_runq(r);
}

// Real retransmits: in its own network namespace the program writes 256 KiB
// through a small send buffer to a loopback peer while nftables drops it on
// input, so the retransmit timer (softirq, some other task current) resends
// the first segments until the rule goes, all while the write is blocked.
// The sender's span is charged exactly what the kernel counted for that
// socket (tcpi_total_retrans, in segments); the reading peer sent nothing.
// (A sender noted only when its send returned lost those retransmits.)
TEST(Costs, RetransmitsChargedToTheLastSender) {
  KS_REQUIRE_ROOT();
  const CostRun r = trace_testprog({}, {"--retrans"});
  ASSERT_EQ(r.prog_status, 0) << r.ks_err;
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  const auto total = r.report.at("total_retrans").get<uint64_t>();
  EXPECT_GE(total, 1u);
  EXPECT_EQ(r.report.at("received").get<uint64_t>(), 256u * 1024u);
  EXPECT_GE(r.report.at("write_ms").get<uint64_t>(), 600u) << "the write did not block";
  const json &tx = only(r, "retransmit");
  EXPECT_EQ(cost(tx, "tcp_retransmits"), total) << tx.dump();
  EXPECT_EQ(cost(only(r, "retransmit_peer"), "tcp_retransmits"), 0u);
  EXPECT_NE(r.ks_out.find("retransmit_unattributed=0 "), std::string::npos) << r.ks_out;
}

TEST(Costs, NoCostsLeavesThemOut) {
  KS_REQUIRE_ROOT();
  const CostRun r = trace_testprog({"--no-costs"});
  ASSERT_EQ(r.prog_status, 0) << r.ks_err;
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  ASSERT_FALSE(r.spans.empty());
  for (const auto &[name, s] : r.spans) {
    EXPECT_FALSE(s.contains("costs")) << s.dump();
  }
}

// testprog_costs --gaps: between its spans the worker makes 40-52 syscalls,
// sleeps 3 ms and reads 16 KiB; the report says what it did in each span.
// Each span carries exactly its own syscalls and bytes read, and of the
// time off CPU its own naps alone: at least 180 us per 200 us nap (the
// timer runs from before the thread leaves the CPU), never more than the
// program's own clock saw from before BEGIN to after END (plus 50 us for
// the two clocks kernspan mixes). A nap between spans (3 ms) would exceed
// that.
void expect_gap_spans(const json &report, const std::vector<json> &all) {
  std::vector<json> spans;
  for (const auto &s : all) {
    if (s["name"] == "gap_span") {
      spans.push_back(s);
    }
  }
  ASSERT_TRUE(report.contains("spans")) << report.dump();
  ASSERT_EQ(spans.size(), report["spans"].size());
  std::sort(spans.begin(), spans.end(), [](const json &a, const json &b) {
    return a["start_unix_nano"].get<uint64_t>() < b["start_unix_nano"].get<uint64_t>();
  });
  for (size_t i = 0; i < spans.size(); i++) {
    const json &s = spans[i];
    const json &did = report["spans"][i];
    const auto wall = did["wall_ns"].get<uint64_t>();
    const auto naps = did["sleeps"].get<uint64_t>();
    ASSERT_TRUE(s.contains("costs")) << s.dump();
    EXPECT_EQ(s["tid"], report["tid"]);
    EXPECT_EQ(cost(s, "syscalls"), did["syscalls"].get<uint64_t>()) << i << ": " << s.dump();
    EXPECT_EQ(cost(s, "read_bytes"), did["read_bytes"].get<uint64_t>()) << i << ": " << s.dump();
    EXPECT_EQ(cost(s, "write_bytes"), 0u) << s.dump();
    EXPECT_GE(cost(s, "offcpu_ns"), naps * 180'000) << i << ": " << s.dump();
    EXPECT_GE(cost(s, "ctxsw_voluntary"), naps) << s.dump();
    EXPECT_LE(cost(s, "offcpu_ns"), wall + 50'000) << i << ": " << s.dump() << did.dump();
    EXPECT_LE(cost(s, "sleep_ns"), wall) << i << ": " << s.dump() << did.dump();
    EXPECT_LE(cost(s, "syscall_ns"), wall + 50'000) << i << ": " << s.dump() << did.dump();
    expect_consistent(s);
  }
}

// With no reader of the threads' running totals, a thread with no span
// open is not counted at all: the work between spans must still stay out of
// them, and each span keep exactly its own.
TEST(Costs, WorkBetweenSpansStaysOutOfThem) {
  KS_REQUIRE_ROOT();
  const std::string report = temp_path("gaps-report.json");
  const std::string out = temp_path("gaps-spans.jsonl");
  const ReadyRun r = trace_ready({COSTS_BIN, "--gaps", "--report", report}, {"-o", out, "-q"});
  ASSERT_TRUE(r.attached) << r.ks_err;
  ASSERT_EQ(r.prog_status, 0) << slurp(r.prog.err_path);
  ASSERT_EQ(r.ks_status, 0) << r.ks_err;
  expect_gap_spans(read_json(report), read_jsonl(out));
}

// The value of the first sample of `family` whose labels hold each of
// `parts`; -1 if none does.
double labelled(const std::string &metrics, const std::string &family,
                const std::vector<std::string> &parts) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    bool all = line.rfind(family + "{", 0) == 0;
    for (const auto &p : parts) {
      all = all && line.find(p) != std::string::npos;
    }
    if (all) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return -1;
}

// Per-thread /metrics read the running totals: then the work between spans
// is counted too. The worker was blocked in read() from before attach, so
// its totals hold exactly what it did after waking: every syscall and byte
// read the program counted, and its 60 naps of 3 ms between spans off CPU.
// Its spans still carry exactly their own.
TEST(Costs, ThreadTotalsCountWorkBetweenSpans) {
  KS_REQUIRE_ROOT();
  const std::string report = temp_path("gaps-report.json");
  const std::string out = temp_path("gaps-spans.jsonl");
  Proc prog = spawn({COSTS_BIN, "--gaps", "--hold", "--report", report});
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "ready", 10000)) << slurp(prog.err_path);
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(prog.pid), "-o", out, "-q",
                   "--prometheus", "127.0.0.1:0"});
  const bool attached = wait_for_text(ks, ks.err_path, "attached", 20000);
  bool done = false;
  std::string metrics;
  json rep;
  if (attached) {
    kill(prog.pid, SIGUSR1);
    done = wait_for_text(prog, prog.out_path, "done", 60000);
    rep = read_json(report);
  }
  const int port = served_port(slurp(ks.err_path));
  const std::string tid = "tid=\"" + (done ? std::to_string(rep["tid"].get<long>()) : "") + "\"";
  // Thread totals are read once a second: wait (bounded) for a reading
  // after the work, while the worker is blocked again.
  for (int i = 0; done && port > 0 && i < 100; i++) {
    metrics = scrape(port);
    if (labelled(metrics, "kernspan_thread_syscalls_total", {tid}) >=
        rep["syscalls"].get<double>()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(prog.pid, SIGTERM);
  EXPECT_EQ(wait_exit(prog, 10000), 0) << slurp(prog.err_path);
  EXPECT_EQ(wait_exit(ks, 10000), 0) << slurp(ks.err_path);
  ASSERT_TRUE(attached) << slurp(ks.err_path);
  ASSERT_TRUE(done) << slurp(prog.err_path);
  ASSERT_GT(port, 0) << slurp(ks.err_path);
  EXPECT_EQ(labelled(metrics, "kernspan_thread_syscalls_total", {tid}),
            rep["syscalls"].get<double>())
      << metrics;
  EXPECT_EQ(labelled(metrics, "kernspan_thread_io_bytes_total", {tid, "direction=\"read\""}),
            rep["read_bytes"].get<double>())
      << metrics;
  double off = 0;
  for (const char *why : {"runq", "io", "sleep"}) {
    off += labelled(metrics, "kernspan_thread_offcpu_seconds_total",
                    {tid, std::string("reason=\"") + why + "\""});
  }
  EXPECT_GE(off, 60 * 2.9e-3) << metrics;
  expect_gap_spans(rep, read_jsonl(out));
}

// What the kernel says about one thread: schedstat (on-CPU ns, run-queue
// wait ns) and io (rchar, wchar: bytes of read/write-family syscalls).
struct ProcThread {
  uint64_t oncpu_ns = 0;
  uint64_t run_delay_ns = 0;
  uint64_t rchar = 0;
  uint64_t wchar = 0;
};

ProcThread read_proc_thread(int pid, long tid) {
  ProcThread p;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/";
  std::ifstream(dir + "schedstat") >> p.oncpu_ns >> p.run_delay_ns;
  std::ifstream io(dir + "io");
  std::string key;
  uint64_t v = 0;
  while (io >> key >> v) {
    if (key == "rchar:") {
      p.rchar = v;
    } else if (key == "wchar:") {
      p.wchar = v;
    }
  }
  return p;
}

// kernspan top's per-thread totals agree with /proc over the same work. The
// workers are idle (blocked) when /proc is read before and after, so both
// readings bracket exactly the work in between.
TEST(Top, ThreadTotalsAgreeWithProc) {
  KS_REQUIRE_ROOT();
  Proc prog = spawn({COSTS_BIN, "--top"});
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "ready", 10000));
  long tids[2] = {0, 0};
  std::istringstream(slurp(prog.out_path).substr(6)) >> tids[0] >> tids[1];
  ASSERT_GT(tids[0], 0);
  ASSERT_GT(tids[1], 0);
  Proc top = spawn({KERNSPAN_BIN, "top", "-p", std::to_string(prog.pid), "--json", "-i", "0.2"});
  ASSERT_TRUE(wait_for_text(top, top.err_path, "watching", 10000)) << slurp(top.err_path);
  const ProcThread before[2] = {read_proc_thread(prog.pid, tids[0]),
                                read_proc_thread(prog.pid, tids[1])};
  kill(prog.pid, SIGUSR1);
  ASSERT_TRUE(wait_for_text(prog, prog.out_path, "done", 20000));
  const ProcThread after[2] = {read_proc_thread(prog.pid, tids[0]),
                               read_proc_thread(prog.pid, tids[1])};
  // Two refreshes later top has read the totals after the work.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  kill(prog.pid, SIGTERM);
  EXPECT_EQ(wait_exit(prog, 10000), 0);
  EXPECT_EQ(wait_exit(top, 10000), 0) << slurp(top.err_path);
  const auto frames = read_jsonl(top.out_path);
  ASSERT_GE(frames.size(), 3u) << slurp(top.err_path);
  // The last frame read while the process was alive and idle.
  const json *last = nullptr;
  for (const auto &f : frames) {
    if (f["threads"].size() >= 3) {
      last = &f;
    }
  }
  ASSERT_NE(last, nullptr);
  for (int i = 0; i < 2; i++) {
    const json *row = nullptr;
    for (const auto &r : (*last)["threads"]) {
      if (r["tid"].get<long>() == tids[i]) {
        row = &r;
      }
    }
    ASSERT_NE(row, nullptr) << last->dump();
    const json &t = (*row)["totals"];
    const auto oncpu = static_cast<double>(after[i].oncpu_ns - before[i].oncpu_ns);
    const auto waited = static_cast<double>(after[i].run_delay_ns - before[i].run_delay_ns);
    const auto rchar = static_cast<double>(after[i].rchar - before[i].rchar);
    const auto wchar = static_cast<double>(after[i].wchar - before[i].wchar);
    EXPECT_GE(oncpu, 200e6);
    EXPECT_NEAR(t["cpu_ns"].get<double>(), oncpu, oncpu * 0.03 + 1e6) << row->dump();
    EXPECT_NEAR(t["runq_ns"].get<double>(), waited, waited * 0.05 + 2e6) << row->dump();
    // The wake-up read() began before attach: its byte is in rchar only.
    EXPECT_GE(rchar, 1048576.0);
    EXPECT_NEAR(t["read_bytes"].get<double>(), rchar, rchar * 0.01 + 1) << row->dump();
    EXPECT_NEAR(t["write_bytes"].get<double>(), wchar, wchar * 0.01) << row->dump();
  }
}

TEST(Top, BadInputGivesOneLineErrors) {
  const auto r = run({KERNSPAN_BIN, "top", "-p", "999999999", "-n", "1"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const auto bad = run({KERNSPAN_BIN, "top", "-p", "1", "-i", "0"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

} // namespace
} // namespace kernspan::itest
