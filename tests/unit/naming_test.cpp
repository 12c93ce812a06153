// SPDX-License-Identifier: Apache-2.0
// SpanNamer with a fake target memory: which names come from records, from
// the caches, from the process, or from the process that forked it, and
// how often the target is asked.
#include "collect/naming.hpp"

#include <gtest/gtest.h>
#include <map>
#include <string>
#include <utility>

namespace kernspan::collect {
namespace {

struct FakeSystem {
  std::map<std::pair<uint32_t, uint64_t>, std::string> memory; // (tgid, addr) -> string
  std::map<uint32_t, std::string> comms;                       // tid -> comm
  std::map<uint32_t, uint32_t> parents;                        // child tgid -> parent
  int string_reads = 0;
  int comm_reads = 0;
  int parent_lookups = 0;

  SpanNamer namer() {
    return SpanNamer(
        [this](uint32_t tgid, uint64_t addr) {
          string_reads++;
          auto it = memory.find({tgid, addr});
          return it == memory.end() ? std::string() : it->second;
        },
        [this](uint32_t, uint32_t tid) {
          comm_reads++;
          auto it = comms.find(tid);
          return it == comms.end() ? std::string() : it->second;
        },
        [this](uint32_t tgid, uint32_t *parent) {
          parent_lookups++;
          auto it = parents.find(tgid);
          if (it == parents.end()) {
            return false;
          }
          *parent = it->second;
          return true;
        });
  }
};

core::Span span(uint32_t tgid, uint32_t tid, std::string name = {}, std::string thread = {}) {
  core::Span s;
  s.tgid = tgid;
  s.tid = tid;
  s.name = std::move(name);
  s.thread = std::move(thread);
  return s;
}

TEST(SpanNamer, ThreadNameSentOnceIsKeptByTid) {
  FakeSystem sys;
  SpanNamer n = sys.namer();
  core::Span first = span(10, 11, "a", "worker-1");
  n.name_thread(first);
  core::Span later = span(10, 11, "a");
  n.name_thread(later);
  EXPECT_EQ(later.thread, "worker-1");
  EXPECT_EQ(sys.comm_reads, 0);
  // A reused tid sends its own comm first: it replaces the old one.
  core::Span reused = span(10, 11, "a", "worker-2");
  n.name_thread(reused);
  core::Span after = span(10, 11, "a");
  n.name_thread(after);
  EXPECT_EQ(after.thread, "worker-2");
}

TEST(SpanNamer, UnknownThreadIsReadOnceFromTheSystem) {
  FakeSystem sys;
  sys.comms[21] = "io";
  SpanNamer n = sys.namer();
  for (int i = 0; i < 3; i++) {
    core::Span s = span(20, 21, "a");
    n.name_thread(s);
    EXPECT_EQ(s.thread, "io");
  }
  EXPECT_EQ(sys.comm_reads, 1);
}

TEST(SpanNamer, NameFromARecordNamesLaterRecordsWithoutReading) {
  FakeSystem sys;
  SpanNamer n = sys.namer();
  core::Span named = span(30, 31, "handle_request");
  n.name_span(named, 0x4000);
  EXPECT_EQ(named.name, "handle_request");
  core::Span unnamed = span(30, 31);
  n.name_span(unnamed, 0x4000);
  EXPECT_EQ(unnamed.name, "handle_request");
  EXPECT_EQ(sys.string_reads, 0);
  ASSERT_NE(n.cached(30, 0x4000), nullptr);
  EXPECT_EQ(*n.cached(30, 0x4000), "handle_request");
  EXPECT_EQ(n.cached(31, 0x4000), nullptr); // another process, same address
}

TEST(SpanNamer, UnreadNameIsReadFromTheTargetOnce) {
  FakeSystem sys;
  sys.memory[{40, 0x5000}] = "query";
  SpanNamer n = sys.namer();
  EXPECT_EQ(n.resolve_name(40, 0x5000), "query");
  EXPECT_EQ(n.resolve_name(40, 0x5000), "query");
  EXPECT_EQ(sys.string_reads, 1);
}

TEST(SpanNamer, ResolvingIntoAStringReplacesWhatItHeld) {
  FakeSystem sys;
  sys.memory[{45, 0x5800}] = "a.name.longer.than.inline.storage";
  SpanNamer n = sys.namer();
  std::string out = "stale name from the previous span";
  n.resolve_name(45, 0x5800, out);
  EXPECT_EQ(out, "a.name.longer.than.inline.storage");
  n.resolve_name(45, 0x5800, out); // from the cache
  EXPECT_EQ(out, "a.name.longer.than.inline.storage");
  n.resolve_name(45, 0x5900, out);
  EXPECT_EQ(out, "<unknown>");
  EXPECT_EQ(sys.string_reads, 2);
}

TEST(SpanNamer, UnreadableNameIsUnknownAndAskedOnce) {
  FakeSystem sys;
  SpanNamer n = sys.namer();
  EXPECT_EQ(n.resolve_name(50, 0x6000), "<unknown>");
  EXPECT_EQ(n.resolve_name(50, 0x6000), "<unknown>");
  EXPECT_EQ(sys.string_reads, 1);
  EXPECT_EQ(sys.parent_lookups, 0); // not following: no parent asked
}

TEST(SpanNamer, FollowedChildIsNamedFromItsForkingAncestor) {
  FakeSystem sys;
  sys.memory[{60, 0x7000}] = "from_grandparent";
  sys.parents[62] = 61;
  sys.parents[61] = 60;
  SpanNamer n = sys.namer();
  n.set_follow_children(true);
  EXPECT_EQ(n.resolve_name(62, 0x7000), "from_grandparent");
  EXPECT_EQ(sys.string_reads, 3); // 62, 61, 60
  EXPECT_EQ(sys.parent_lookups, 2);
  EXPECT_EQ(n.resolve_name(62, 0x7000), "from_grandparent"); // cached for the child
  EXPECT_EQ(sys.string_reads, 3);
  // No ancestor has it.
  sys.parents[70] = 71;
  EXPECT_EQ(n.resolve_name(70, 0x8000), "<unknown>");
}

TEST(SpanNamer, NameCacheIsBounded) {
  FakeSystem sys;
  SpanNamer n = sys.namer();
  for (uint64_t i = 0; i < SpanNamer::kMaxNames; i++) {
    core::Span s = span(80, 81, "n");
    n.name_span(s, 0x10000 + i);
  }
  core::Span over = span(80, 81, "over");
  n.name_span(over, 0x1);
  EXPECT_EQ(n.cached(80, 0x1), nullptr); // full: not kept
  ASSERT_NE(n.cached(80, 0x10000), nullptr);
  sys.memory[{80, 0x2}] = "read";
  EXPECT_EQ(n.resolve_name(80, 0x2), "read");
  EXPECT_EQ(n.resolve_name(80, 0x2), "read");
  EXPECT_EQ(sys.string_reads, 2); // full: read each time
}

TEST(SpanNamer, FunctionNamesComeFromThePlan) {
  Plan p;
  p.functions = {{"parse", 0}, {"write_reply", 2}};
  EXPECT_EQ(function_name(p, 1), "write_reply");
  EXPECT_EQ(function_name(p, 2), "<unknown function>");
}

} // namespace
} // namespace kernspan::collect
