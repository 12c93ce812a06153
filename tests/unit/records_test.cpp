// SPDX-License-Identifier: Apache-2.0
// Record decoding from bytes, without BPF: whole records of each length the
// kernel sends, and truncated, mislabelled and corrupt ones, which are
// refused with the reason (never read past their end).
#include "collect/records.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

namespace kernspan::collect {
namespace {

const core::ClockOffset kClock(1'000'000'000); // unix = monotonic + 1 s

ks_span_rec span_record() {
  ks_span_rec r{};
  r.hdr.kind = KS_REC_SPAN;
  r.hdr.size = sizeof(r);
  r.hdr.tgid = 100;
  r.hdr.tid = 101;
  r.start_ns = 5'000;
  r.end_ns = 7'500;
  r.trace_id_hi = 0x1122334455667788;
  r.trace_id_lo = 0x99aabbccddeeff00;
  r.span_id = 42;
  r.parent_span_id = 41;
  r.depth = 1;
  r.flags = KS_SPAN_HAS_COSTS;
  std::strcpy(r.comm, "worker");
  r.costs.cpu_ns = 2'000;
  return r;
}

std::vector<uint8_t> bytes_of(const ks_span_rec &r, size_t size) {
  std::vector<uint8_t> b(size);
  std::memcpy(b.data(), &r, std::min(size, sizeof(r)));
  return b;
}

// A record with its name: the fixed part, then the name's bytes.
std::vector<uint8_t> named(ks_span_rec r, const std::string &name) {
  r.hdr.size = static_cast<__u16>(sizeof(r) + name.size());
  auto b = bytes_of(r, sizeof(r));
  b.insert(b.end(), name.begin(), name.end());
  return b;
}

TEST(Records, AWholeSpanRecordDecodesFieldByField) {
  const auto b = named(span_record(), "handle_request");
  DecodeError err{};
  const auto s = decode_span(b.data(), b.size(), kClock, &err);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, "handle_request");
  EXPECT_EQ(s->thread, "worker");
  EXPECT_EQ(s->tgid, 100u);
  EXPECT_EQ(s->tid, 101u);
  EXPECT_EQ(s->span_id, 42u);
  EXPECT_EQ(s->parent_span_id, 41u);
  EXPECT_EQ(s->depth, 1u);
  EXPECT_EQ(s->start_unix_nano, 1'000'005'000u);
  EXPECT_EQ(s->end_unix_nano, 1'000'007'500u);
  EXPECT_TRUE(s->has_costs);
  EXPECT_EQ(s->costs.cpu_ns, 2'000u);
  EXPECT_FALSE(s->incomplete);
}

TEST(Records, ShorterRecordsTheKernelSendsDecode) {
  // Without its name (named from the name cache), and without costs either.
  auto r = span_record();
  r.hdr.size = KS_SPAN_REC_NO_NAME;
  auto b = bytes_of(r, KS_SPAN_REC_NO_NAME);
  auto s = decode_span(b.data(), b.size(), kClock);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, "");
  EXPECT_EQ(s->costs.cpu_ns, 2'000u);
  r.flags = 0;
  r.hdr.size = KS_SPAN_REC_NO_COSTS_NO_NAME;
  b = bytes_of(r, KS_SPAN_REC_NO_COSTS_NO_NAME);
  s = decode_span(b.data(), b.size(), kClock);
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->has_costs);
}

TEST(Records, TruncatedMislabelledAndCorruptRecordsAreRefused) {
  const auto whole = span_record();
  DecodeError err{};
  // Shorter than a header.
  auto b = bytes_of(whole, sizeof(ks_hdr) - 1);
  EXPECT_FALSE(decode_span(b.data(), b.size(), kClock, &err).has_value());
  EXPECT_EQ(err, DecodeError::kShort);
  // The header claims more bytes than arrived.
  b = bytes_of(whole, sizeof(ks_span_rec) - 1);
  EXPECT_FALSE(decode_span(b.data(), b.size(), kClock, &err).has_value());
  EXPECT_EQ(err, DecodeError::kBadSize);
  // A size the kernel never sends.
  auto r = whole;
  r.hdr.size = sizeof(ks_span_rec) - 8;
  b = bytes_of(r, sizeof(ks_span_rec));
  EXPECT_FALSE(decode_span(b.data(), b.size(), kClock, &err).has_value());
  EXPECT_EQ(err, DecodeError::kBadSize);
  // A name longer than the kernel ever keeps, whole in the buffer.
  b = named(whole, std::string(KS_MAX_STRING + 1, 'n'));
  EXPECT_FALSE(decode_span(b.data(), b.size(), kClock, &err).has_value());
  EXPECT_EQ(err, DecodeError::kBadSize);
  // A name whose last byte did not arrive.
  b = named(whole, "abc");
  b.pop_back();
  EXPECT_FALSE(decode_span(b.data(), b.size(), kClock, &err).has_value());
  EXPECT_EQ(err, DecodeError::kBadSize);
  // Costs flagged in a record cut before them.
  r = whole;
  r.hdr.size = KS_SPAN_REC_NO_COSTS_NO_NAME;
  b = bytes_of(r, KS_SPAN_REC_NO_COSTS_NO_NAME);
  EXPECT_FALSE(decode_span(b.data(), b.size(), kClock, &err).has_value());
  EXPECT_EQ(err, DecodeError::kBadSize);
  // Another kind of record.
  r = whole;
  r.hdr.kind = KS_REC_FN_SPAN;
  b = bytes_of(r, sizeof(ks_span_rec));
  EXPECT_FALSE(decode_span(b.data(), b.size(), kClock, &err).has_value());
  EXPECT_EQ(err, DecodeError::kBadKind);
  // A function-span decoder handed a plain span record.
  b = bytes_of(whole, sizeof(ks_span_rec));
  EXPECT_FALSE(decode_fn_span(b.data(), b.size(), kClock, &err).has_value());
}

TEST(Records, AnEndBeforeItsStartIsClampedAndNamesNeedNoTerminator) {
  auto r = span_record();
  r.end_ns = r.start_ns - 1; // clocks never run back; a corrupt end must not underflow
  std::memset(r.comm, 'y', sizeof(r.comm));
  const auto b = named(r, std::string(KS_MAX_STRING, 'x')); // the longest, no NUL
  const auto s = decode_span(b.data(), b.size(), kClock);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->end_unix_nano, s->start_unix_nano);
  EXPECT_EQ(s->name, std::string(KS_MAX_STRING, 'x'));
  EXPECT_EQ(s->thread, std::string(sizeof(r.comm), 'y'));
}

TEST(Records, ANameTheKernelCutEndsInAnEllipsis) {
  auto r = span_record();
  r.flags |= KS_SPAN_NAME_CUT;
  const auto b = named(r, "abcdef");
  const auto s = decode_span(b.data(), b.size(), kClock);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, "abcdef\xE2\x80\xA6");
}

// Cuts at a UTF-8 boundary, against sequences written out by hand:
// U+00E9 is C3 A9, U+20AC E2 82 AC, U+1F600 F0 9F 98 80.
TEST(Records, CutStringsDropAnIncompleteLastCharacter) {
  const std::string e = "\xE2\x80\xA6";
  EXPECT_EQ(cut_string("abc"), "abc" + e);
  EXPECT_EQ(cut_string(""), e);
  EXPECT_EQ(cut_string("a\xC3\xA9"), "a\xC3\xA9" + e);         // whole 2-byte
  EXPECT_EQ(cut_string("a\xC3"), "a" + e);                     // 1 of 2
  EXPECT_EQ(cut_string("a\xE2\x82\xAC"), "a\xE2\x82\xAC" + e); // whole 3-byte
  EXPECT_EQ(cut_string("a\xE2\x82"), "a" + e);                 // 2 of 3
  EXPECT_EQ(cut_string("a\xE2"), "a" + e);                     // 1 of 3
  EXPECT_EQ(cut_string("a\xF0\x9F\x98\x80"), "a\xF0\x9F\x98\x80" + e);
  EXPECT_EQ(cut_string("a\xF0\x9F\x98"), "a" + e); // 3 of 4
  EXPECT_EQ(cut_string("a\xF0"), "a" + e);
  // Not UTF-8 to begin with: kept as it is (the sinks escape it).
  EXPECT_EQ(cut_string("a\x80\x80"), "a\x80\x80" + e);
  EXPECT_EQ(cut_string("\xFF"), "\xFF" + e);
}

// stat_names values: the header, then the name's bytes (a buffer of the
// map's value size, longer than the name).
TEST(Records, StatNamesDecodeWholeOrCutAndAreBoundsChecked) {
  std::vector<char> b(KS_STAT_NAME_SIZE(16), 0);
  ks_stat_name h{};
  h.len = 5;
  std::memcpy(b.data(), &h, sizeof(h));
  std::memcpy(b.data() + sizeof(h), "query", 5);
  EXPECT_EQ(decode_stat_name(b.data(), b.size()), "query");
  h.state = KS_STR_CUT;
  std::memcpy(b.data(), &h, sizeof(h));
  EXPECT_EQ(decode_stat_name(b.data(), b.size()), "query\xE2\x80\xA6");
  h.len = static_cast<__u16>(b.size() - sizeof(h) + 1); // past the value
  std::memcpy(b.data(), &h, sizeof(h));
  EXPECT_FALSE(decode_stat_name(b.data(), b.size()).has_value());
  EXPECT_FALSE(decode_stat_name(b.data(), sizeof(h) - 1).has_value());
}

} // namespace
} // namespace kernspan::collect
