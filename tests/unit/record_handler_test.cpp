// SPDX-License-Identifier: Apache-2.0
// The collector's per-record handling from bytes, without BPF: names and
// comms omitted after a thread's first record come from that record, and
// a span reused from one record to the next carries nothing of the last.
#include "collect/record_handler.hpp"
#include "collect/records.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>

namespace kernspan::collect {
namespace {

const core::ClockOffset kClock(1'000'000'000); // unix = monotonic + 1 s
constexpr uint64_t kNamePtr = 0x5555'0000'1000;
constexpr char kLongName[] = "a.rather.long.span.name"; // past std::string's inline room

// A record as the ring buffer holds it: the fixed part, then the name's
// bytes when it carries them.
struct __attribute__((packed)) WithName {
  ks_span_rec r;
  char name[sizeof(kLongName) - 1];
};

ks_span_rec first_record(uint32_t tid) {
  ks_span_rec r{};
  r.hdr.kind = KS_REC_SPAN;
  r.hdr.size = sizeof(r);
  r.hdr.tgid = 100;
  r.hdr.tid = tid;
  r.start_ns = 5'000;
  r.end_ns = 7'500;
  r.span_id = 42;
  r.name_ptr = kNamePtr;
  r.flags = KS_SPAN_HAS_COSTS;
  r.costs.cpu_ns = 2'000;
  std::strcpy(r.comm, "worker");
  return r;
}

WithName first_record_named(uint32_t tid) {
  WithName w{};
  w.r = first_record(tid);
  w.r.hdr.size = sizeof(w);
  std::memcpy(w.name, kLongName, sizeof(w.name));
  return w;
}

// What the kernel sends once the thread sent its comm and the name.
ks_span_rec later_record(uint32_t tid, bool costs) {
  ks_span_rec r = first_record(tid);
  std::memset(r.comm, 'x', sizeof(r.comm)); // stale ring-buffer bytes
  r.span_id = 43;
  r.flags = KS_SPAN_NAME_OMITTED | KS_SPAN_COMM_OMITTED | (costs ? KS_SPAN_HAS_COSTS : 0);
  r.hdr.size = costs ? KS_SPAN_REC_NO_NAME : KS_SPAN_REC_NO_COSTS_NO_NAME;
  if (!costs) {
    std::memset(&r.costs, 0xff, sizeof(r.costs)); // not sent: must not be read
  }
  return r;
}

ks_fn_span_rec fn_record(uint32_t probe, uint32_t nargs, uint64_t ret) {
  ks_fn_span_rec r{};
  r.span = first_record(7);
  r.span.hdr.kind = KS_REC_FN_SPAN;
  r.span.hdr.size = sizeof(r);
  r.span.name_ptr = KS_FN_TAG | probe;
  r.span.flags = 0;
  r.probe_id = probe;
  r.nargs = nargs;
  for (uint64_t i = 0; i < KS_FN_MAX_ARGS; i++) {
    r.args[i] = 10 + i;
  }
  r.ret = ret;
  return r;
}

struct Collected {
  std::vector<core::Span> spans;
  RecordHandler::SpanFn fn() {
    return [this](core::Span &&s) { spans.push_back(s); };
  }
};

TEST(RecordHandler, OmittedNameAndCommComeFromTheThreadsFirstRecord) {
  Plan plan;
  RecordHandler h(plan, kClock);
  Collected got;
  const auto on_span = got.fn();
  const WithName first = first_record_named(101);
  const ks_span_rec later = later_record(101, false);
  static_assert(sizeof(WithName) == sizeof(ks_span_rec) + sizeof(kLongName) - 1);
  h.handle(&first, sizeof(first), on_span);
  h.handle(&later, KS_SPAN_REC_NO_COSTS_NO_NAME, on_span);
  ASSERT_EQ(got.spans.size(), 2U);
  EXPECT_EQ(got.spans[1].name, "a.rather.long.span.name");
  EXPECT_EQ(got.spans[1].thread, "worker");
  EXPECT_EQ(got.spans[1].span_id, 43U);
  EXPECT_FALSE(got.spans[1].has_costs);
  EXPECT_EQ(got.spans[1].costs, core::Costs{}); // the first record's costs are not kept
  EXPECT_EQ(got.spans[0].costs.cpu_ns, 2'000U);
  EXPECT_EQ(h.records(), 2U);
  EXPECT_EQ(h.decode_errors(), 0U);
  ASSERT_NE(h.cached_name(100, kNamePtr), nullptr);
  EXPECT_EQ(*h.cached_name(100, kNamePtr), "a.rather.long.span.name");
}

TEST(RecordHandler, FunctionSpansGetExactlyTheirOwnArguments) {
  Plan plan;
  plan.functions = {{"parse", 2}, {"query", 1}, {"noargs", 0}};
  RecordHandler h(plan, kClock);
  Collected got;
  const auto on_span = got.fn();
  // Each function after another with other attributes, then the first again.
  for (const auto &r : {fn_record(0, 6, 1), fn_record(1, 6, 2), fn_record(2, 6, 3),
                        fn_record(0, 1, 4), fn_record(0, 6, 5)}) {
    h.handle(&r, sizeof(r), on_span);
  }
  ASSERT_EQ(got.spans.size(), 5U);
  using A = std::map<std::string, core::AttrValue>;
  EXPECT_EQ(got.spans[0].name, "parse");
  EXPECT_EQ(got.spans[0].attributes,
            (A{{"arg0", int64_t{10}}, {"arg1", int64_t{11}}, {"ret", int64_t{1}}}));
  EXPECT_EQ(got.spans[1].name, "query");
  EXPECT_EQ(got.spans[1].attributes, (A{{"arg0", int64_t{10}}, {"ret", int64_t{2}}}));
  EXPECT_EQ(got.spans[2].name, "noargs");
  EXPECT_EQ(got.spans[2].attributes, A{});
  // The kernel read one argument only: no arg1.
  EXPECT_EQ(got.spans[3].attributes, (A{{"arg0", int64_t{10}}, {"ret", int64_t{4}}}));
  EXPECT_EQ(got.spans[4].attributes,
            (A{{"arg0", int64_t{10}}, {"arg1", int64_t{11}}, {"ret", int64_t{5}}}));
  EXPECT_EQ(got.spans[4].thread, "worker");
}

} // namespace
} // namespace kernspan::collect
