// SPDX-License-Identifier: Apache-2.0
// C++ companion of bpf/kernspan.h: layout checks and decoding of records
// into core types. Decoding takes raw bytes so it can be unit-tested and
// fuzzed without BPF.
#pragma once

#include "core/clock.hpp"
#include "core/span.hpp"
#include "core/threads.hpp"

extern "C" {
#include "bpf/kernspan.h"
}

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace kernspan::collect {

static_assert(sizeof(ks_hdr) == 24, "ks_hdr layout changed: update both sides");
static_assert(sizeof(ks_costs) == size_t{16} * 8, "ks_costs layout changed");
static_assert(sizeof(ks_span_rec) == size_t{24} + size_t{8} * 6 + 8 + 8 + KS_COMM_LEN + 128,
              "ks_span_rec layout changed");
static_assert(offsetof(ks_span_rec, costs) % 8 == 0, "costs must stay 8-byte aligned");

static_assert(sizeof(ks_thread_rec) == 8 + 8 + KS_COMM_LEN + 128, "ks_thread_rec layout changed");
static_assert(sizeof(ks_fn_span_rec) == sizeof(ks_span_rec) + 8 + size_t{8} * KS_FN_MAX_ARGS + 8,
              "ks_fn_span_rec layout changed: update both sides");
static_assert(offsetof(ks_fn_span_rec, probe_id) == sizeof(ks_span_rec), "ks_fn_span_rec layout");

enum class DecodeError { kShort, kBadKind, kBadSize };

// Copy a fixed-size, maybe unterminated char array into a string.
std::string fixed_string(const char *s, size_t n);

// What a string cut at --max-string ends with (U+2026).
inline constexpr std::string_view kCutMark = "\xE2\x80\xA6";

// The first bytes of a longer string, as the kernel kept them, shown as cut:
// a UTF-8 sequence left incomplete at the end is dropped (so valid UTF-8
// stays valid), then kCutMark is appended.
std::string cut_string(std::string_view kept);

core::Costs decode_costs(const ks_costs &c);

// Decode one record of the dump_threads iterator. `data` may be unaligned.
std::optional<core::ThreadCosts> decode_thread(const void *data, size_t size);

// Decode one ring-buffer record of kind KS_REC_SPAN. `data` may be unaligned.
std::optional<core::Span> decode_span(const void *data, size_t size, const core::ClockOffset &clock,
                                      DecodeError *err = nullptr);
// The same into an existing span (its strings keep their capacity: no
// allocation per record). Every field is set except `attributes`, which is
// left as it is for the caller to reuse or clear. False on a bad record.
bool decode_span_into(core::Span &out, const void *data, size_t size,
                      const core::ClockOffset &clock, DecodeError *err = nullptr);

// Copy a record that extends a span record (member `span`, then its own
// fields) out of `data` into `r`, check it is whole and of kind `kind` (and
// `valid(r)`, e.g. an index in range), and decode its span part as an
// ordinary span record. With `tail`, the record may go on past sizeof(r)
// (hdr.size, at most `size`; the caller checks what follows); without it,
// hdr.size must be sizeof(r). `data` may be unaligned.
template <typename Rec, typename Valid>
bool decode_span_part_into(core::Span &out, Rec &r, const void *data, size_t size,
                           decltype(ks_hdr::kind) kind, Valid valid, const core::ClockOffset &clock,
                           DecodeError *err, bool tail = false) {
  auto fail = [err](DecodeError e) {
    if (err != nullptr) {
      *err = e;
    }
    return false;
  };
  if (size < sizeof(r)) {
    return fail(DecodeError::kShort);
  }
  std::memcpy(&r, data, sizeof(r));
  if (r.span.hdr.kind != kind || !valid(r)) {
    return fail(DecodeError::kBadKind);
  }
  if (tail ? (r.span.hdr.size < sizeof(r) || r.span.hdr.size > size)
           : r.span.hdr.size != sizeof(r)) {
    return fail(DecodeError::kBadSize);
  }
  r.span.hdr.kind = KS_REC_SPAN;
  r.span.hdr.size = sizeof(r.span);
  return decode_span_into(out, &r.span, sizeof(r.span), clock, err);
}

template <typename Rec, typename Valid>
std::optional<core::Span>
decode_span_part(Rec &r, const void *data, size_t size, decltype(ks_hdr::kind) kind, Valid valid,
                 const core::ClockOffset &clock, DecodeError *err, bool tail = false) {
  core::Span s;
  if (!decode_span_part_into(s, r, data, size, kind, valid, clock, err, tail)) {
    return std::nullopt;
  }
  return s;
}

// A `stat_names` value (`size` bytes): the name, cut ones ending in
// kCutMark; nullopt when its length is past what `size` holds.
std::optional<std::string> decode_stat_name(const void *data, size_t size);

// The tag in name_ptr that marks a function span, and its probe id.
inline bool is_fn_tag(uint64_t name_ptr) {
  return (name_ptr & KS_FN_TAG) != 0;
}
inline uint32_t fn_probe_id(uint64_t name_ptr) {
  return static_cast<uint32_t>(name_ptr);
}

// Decode a KS_REC_FN_SPAN record: the span, plus its probe id and the first
// `nargs` arguments (arg0..) and return value (ret) as raw register values,
// for the caller to turn into attributes (it knows how many were asked for).
struct FnSpan {
  core::Span span;
  uint32_t probe_id = 0;
  uint32_t nargs = 0;
  uint64_t args[KS_FN_MAX_ARGS] = {};
  uint64_t ret = 0;
};
std::optional<FnSpan> decode_fn_span(const void *data, size_t size, const core::ClockOffset &clock,
                                     DecodeError *err = nullptr);

} // namespace kernspan::collect
