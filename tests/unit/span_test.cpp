// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "core/span.hpp"

namespace kernspan::core {
namespace {

TEST(SpanId, HexIsSixteenLowercaseDigitsZeroPadded) {
  EXPECT_EQ(span_id_hex(0), "0000000000000000");
  EXPECT_EQ(span_id_hex(0xab), "00000000000000ab");
  EXPECT_EQ(span_id_hex(0x00f067aa0ba902b7ULL), "00f067aa0ba902b7");
  EXPECT_EQ(span_id_hex(UINT64_MAX), "ffffffffffffffff");
}

TEST(TraceId, HexIsThirtyTwoLowercaseDigitsHiFirst) {
  EXPECT_EQ((TraceId{0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL}.hex()),
            "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ((TraceId{0, 1}.hex()), "00000000000000000000000000000001");
  EXPECT_EQ((TraceId{1, 0}.hex()), "00000000000000010000000000000000");
}

TEST(TraceId, Valid) {
  EXPECT_FALSE(TraceId{}.valid());
  EXPECT_TRUE((TraceId{0, 1}.valid()));
  EXPECT_TRUE((TraceId{1, 0}.valid()));
}

TEST(SpanId, ParseRoundTrips) {
  for (uint64_t id : {uint64_t{0}, uint64_t{1}, uint64_t{0x00f067aa0ba902b7ULL},
                      uint64_t{0x8000000000000000ULL}, UINT64_MAX}) {
    uint64_t out = 12345;
    ASSERT_TRUE(parse_span_id(span_id_hex(id), out)) << id;
    EXPECT_EQ(out, id);
  }
}

TEST(SpanId, ParseAcceptsUppercase) {
  uint64_t out = 0;
  ASSERT_TRUE(parse_span_id("00F067AA0BA902B7", out));
  EXPECT_EQ(out, 0x00f067aa0ba902b7ULL);
}

TEST(SpanId, ParseRejectsBadInputAndLeavesOutputAlone) {
  for (const char *bad :
       {"", "00f067aa0ba902b", "00f067aa0ba902b70", "00f067aa0ba902bg", "0x00f067aa0ba902",
        " 00f067aa0ba902b", "00f067aa-ba902b7", "4bf92f3577b34da6a3ce929d0e0e4736"}) {
    uint64_t out = 77;
    EXPECT_FALSE(parse_span_id(bad, out)) << bad;
    EXPECT_EQ(out, 77U) << bad;
  }
}

TEST(TraceId, ParseRoundTrips) {
  const TraceId id{0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL};
  TraceId out;
  ASSERT_TRUE(parse_trace_id(id.hex(), out));
  EXPECT_EQ(out, id);
  ASSERT_TRUE(parse_trace_id("0000000000000000000000000000000f", out));
  EXPECT_EQ(out, (TraceId{0, 15}));
}

TEST(TraceId, ParseRejectsBadInputAndLeavesOutputAlone) {
  for (const char *bad : {"", "4bf92f3577b34da6a3ce929d0e0e473",
                          "4bf92f3577b34da6a3ce929d0e0e47361", "4bf92f3577b34da6-3ce929d0e0e4736",
                          "4bf92f3577b34da6a3ce929d0e0e473z", "00f067aa0ba902b7"}) {
    TraceId out{5, 6};
    EXPECT_FALSE(parse_trace_id(bad, out)) << bad;
    EXPECT_EQ(out, (TraceId{5, 6})) << bad;
  }
}

TEST(Span, DurationAndRoot) {
  Span s;
  s.start_unix_nano = 100;
  s.end_unix_nano = 350;
  EXPECT_EQ(s.duration_ns(), 250U);
  EXPECT_TRUE(s.is_root());
  s.parent_span_id = 9;
  EXPECT_FALSE(s.is_root());
  s.end_unix_nano = 50; // clock step: never a huge unsigned wrap
  EXPECT_EQ(s.duration_ns(), 0U);
}

} // namespace
} // namespace kernspan::core
