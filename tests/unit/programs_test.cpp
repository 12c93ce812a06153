// SPDX-License-Identifier: Apache-2.0
// The program table against the BPF object itself (opened, never loaded:
// no root), and the programs each kind of plan loads. The expected sets
// are written out by hand from what each mode does (docs/ARCHITECTURE.md),
// not computed by the table's code.
#include "collect/programs.hpp"

#include "bpf/kernspan.h"
#include "kernspan.skel.h"

#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace kernspan::collect {
namespace {

using Names = std::set<std::string>;

// Every program of the object with its section name, as the ELF says.
std::map<std::string, std::string> object_programs() {
  std::unique_ptr<ks_kernspan, decltype(&ks_kernspan__destroy)> skel(ks_kernspan__open(),
                                                                     ks_kernspan__destroy);
  std::map<std::string, std::string> out;
  if (!skel) {
    ADD_FAILURE() << "cannot open the BPF object";
    return out;
  }
  bpf_program *p = nullptr;
  bpf_object__for_each_program(p, skel->obj) {
    out[bpf_program__name(p)] = bpf_program__section_name(p);
  }
  return out;
}

TEST(ProgramTable, EveryProgramOfTheObjectHasExactlyOneRow) {
  const auto object = object_programs();
  Names in_object;
  for (const auto &[name, section] : object) {
    in_object.insert(name);
  }
  Names in_table;
  for (const Program &p : programs()) {
    EXPECT_TRUE(in_table.insert(p.name).second) << "two rows for " << p.name;
  }
  EXPECT_EQ(in_table, in_object);
  EXPECT_EQ(in_object.size(), 37U); // bpf/*.bpf.c: grep -c 'SEC(' minus maps and licenses
}

// The row's attach kind and variant agree with the program's section.
TEST(ProgramTable, KindAndVariantMatchTheSection) {
  for (const auto &entry : object_programs()) {
    const std::string &name = entry.first;
    const std::string &section = entry.second; // a lambda below takes it: no binding
    const Program *row = find_program(name);
    ASSERT_NE(row, nullptr) << name;
    const auto starts = [&](const char *prefix) { return section.rfind(prefix, 0) == 0; };
    if (starts("usdt")) {
      EXPECT_EQ(row->attach, AttachKind::kUsdt) << name;
    } else if (starts("uprobe") || starts("uretprobe")) {
      EXPECT_EQ(row->attach, AttachKind::kMultiUprobe) << name;
    } else if (starts("iter/")) {
      EXPECT_EQ(row->attach, AttachKind::kIterator) << name;
      EXPECT_EQ(row->variant, Variant::kTpBtf) << name; // iterators need BTF too
    } else {
      EXPECT_TRUE(starts("tp_btf/") || starts("raw_tp/")) << name << " in " << section;
      EXPECT_EQ(row->attach, AttachKind::kSkeleton) << name;
      EXPECT_EQ(row->phase, Phase::kTracepoints) << name;
    }
    if (row->variant == Variant::kTpBtf && !starts("iter/")) {
      EXPECT_TRUE(starts("tp_btf/")) << name << " in " << section;
    }
    if (row->variant == Variant::kRawTp) {
      EXPECT_TRUE(starts("raw_tp/")) << name << " in " << section;
    }
  }
}

Features all_features() {
  Features f;
  f.tp_btf = true;
  f.tcp_sendmsg_locked = true;
  f.multi_uprobe = true;
  return f;
}

Names wanted(const Plan &plan, const Features &f) {
  Names out;
  for (const Program &p : programs()) {
    if (p.wanted(plan, f)) {
      out.insert(p.name);
    }
  }
  return out;
}

UsdtAttach header_probe(const char *name, bool regs = true) {
  UsdtAttach u;
  u.pid = 42;
  u.object = "/bin/app";
  u.provider = "kernspan";
  u.name = name;
  u.regs = regs;
  if (regs) {
    u.site_offsets = {0x1000, 0x2000};
    u.semaphore_offsets = {0, 0};
  }
  return u;
}

Plan header_spans() {
  Plan p;
  p.tgids = {42};
  p.usdt = {header_probe("span_begin"), header_probe("span_end")};
  return p;
}

TEST(ProgramTable, HeaderSpansWithoutCosts) {
  EXPECT_EQ(wanted(header_spans(), all_features()),
            (Names{"task_rename", "thread_exit", "span_begin_m", "span_end_m"}));
}

TEST(ProgramTable, HeaderSpansWithoutMultiUprobeLinks) {
  Features f = all_features();
  f.multi_uprobe = false;
  Plan p = header_spans();
  p.usdt.push_back(header_probe("span_begin_remote", false));
  EXPECT_EQ(wanted(p, f), (Names{"task_rename", "thread_exit", "span_begin", "span_end",
                                 "span_begin_remote_usdt"}));
}

TEST(ProgramTable, CostsWithTpBtf) {
  Plan p = header_spans();
  p.costs = true;
  const Names expect{"task_rename",    "thread_exit",    "span_begin_m", "span_end_m",
                     "sched_switch",   "sys_enter",      "sys_exit_btf", "sock_send_btf",
                     "tcp_send_start", "tcp_retransmit", "sock_recv"};
  EXPECT_EQ(wanted(p, all_features()), expect);
  Features old = all_features();
  old.tcp_sendmsg_locked = false; // before Linux 6.16: senders noted on return
  Names without = expect;
  without.erase("tcp_send_start");
  EXPECT_EQ(wanted(p, old), without);
}

TEST(ProgramTable, CostsWithRawTpTwins) {
  Plan p = header_spans();
  p.costs = true;
  Features f = all_features();
  f.tp_btf = false;
  EXPECT_EQ(wanted(p, f),
            (Names{"thread_exit_raw", "span_begin_m", "span_end_m", "sched_switch_raw", "sys_enter",
                   "sys_exit", "sock_send", "sock_recv"}));
}

TEST(ProgramTable, FunctionUprobes) {
  Plan p;
  p.tgids = {42};
  UprobeAttach u;
  u.pid = 42;
  u.object = "/bin/app";
  u.sites = {{0x1234, 0, 0}};
  p.uprobes = {u};
  p.functions = {{"work", 0}};
  EXPECT_EQ(wanted(p, all_features()),
            (Names{"task_rename", "thread_exit", "fn_entry", "fn_return"}));
}

TEST(ProgramTable, UsdtPairsAndCounters) {
  Plan p;
  p.tgids = {42};
  UsdtAttach b = header_probe("query__start", false);
  b.provider = "postgresql";
  b.program = "pair_begin";
  UsdtAttach e = b;
  e.name = "query__done";
  e.program = "pair_end";
  UsdtAttach c = b;
  c.name = "checkpoint__start";
  c.program = "usdt_count";
  p.usdt = {b, e, c};
  EXPECT_EQ(wanted(p, all_features()),
            (Names{"task_rename", "thread_exit", "pair_begin", "pair_end", "usdt_count"}));
}

TEST(ProgramTable, StatsModeLoadsWhatTraceModeLoads) {
  Plan p = header_spans();
  p.costs = true;
  const Names trace = wanted(p, all_features());
  p.mode = Mode::kStats;
  EXPECT_EQ(wanted(p, all_features()), trace);
  p.mode = Mode::kSample;
  EXPECT_EQ(wanted(p, all_features()), trace);
}

TEST(ProgramTable, TopAddsTheThreadIterator) {
  Plan p = header_spans();
  p.costs = true;
  p.threads = true;
  EXPECT_EQ(wanted(p, all_features()).count("dump_threads"), 1U);
  Features f = all_features();
  f.tp_btf = false;
  EXPECT_EQ(wanted(p, f).count("dump_threads"), 0U);
}

TEST(ProgramTable, SpanTimeoutAndFollowing) {
  Plan p = header_spans();
  p.span_timeout_ns = 1'000'000'000;
  p.follow.children = true;
  EXPECT_EQ(wanted(p, all_features()),
            (Names{"task_rename", "thread_exit", "span_begin_m", "span_end_m", "expire_spans",
                   "follow_fork", "follow_exec", "follow_free"}));
  Plan b = header_spans();
  b.follow.exe_ino = 7; // --binary: exec and free, no fork
  EXPECT_EQ(wanted(b, all_features()), (Names{"task_rename", "thread_exit", "span_begin_m",
                                              "span_end_m", "follow_exec", "follow_free"}));
}

TEST(ProgramTable, TwinsAreNeverLoadedTogether) {
  Plan p = header_spans();
  p.costs = true;
  for (const bool tp_btf : {true, false}) {
    Features f = all_features();
    f.tp_btf = tp_btf;
    const Names w = wanted(p, f);
    EXPECT_NE(w.count("thread_exit"), w.count("thread_exit_raw"));
    EXPECT_NE(w.count("sched_switch"), w.count("sched_switch_raw"));
    EXPECT_NE(w.count("sys_exit_btf"), w.count("sys_exit"));
    EXPECT_NE(w.count("sock_send_btf"), w.count("sock_send"));
  }
}

TEST(ProgramTable, EndsBeforeBegins) {
  EXPECT_TRUE(is_end(header_probe("span_end")));
  EXPECT_FALSE(is_end(header_probe("span_begin")));
  EXPECT_FALSE(is_end(header_probe("span_begin_remote")));
  for (const Program &p : programs()) {
    const std::string name = p.name;
    if (p.attach != AttachKind::kUsdt && p.attach != AttachKind::kMultiUprobe) {
      EXPECT_EQ(p.phase, Phase::kTracepoints) << name;
    } else if (name.find("begin") != std::string::npos || name == "fn_entry") {
      EXPECT_EQ(p.phase, Phase::kBegins) << name;
    } else if (name.find("end") != std::string::npos || name == "fn_return" ||
               name == "usdt_count") {
      EXPECT_EQ(p.phase, Phase::kEnds) << name;
    }
  }
}

} // namespace
} // namespace kernspan::collect
