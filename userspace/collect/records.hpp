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
#include <optional>

namespace kernspan::collect {

static_assert(sizeof(ks_hdr) == 24, "ks_hdr layout changed: update both sides");
static_assert(sizeof(ks_costs) == size_t{16} * 8, "ks_costs layout changed");
static_assert(sizeof(ks_span_rec) ==
                  size_t{24} + size_t{8} * 6 + 8 + 8 + KS_NAME_LEN + KS_COMM_LEN + 128,
              "ks_span_rec layout changed");
static_assert(offsetof(ks_span_rec, costs) % 8 == 0, "costs must stay 8-byte aligned");

static_assert(sizeof(ks_thread_rec) == 8 + 8 + KS_COMM_LEN + 128, "ks_thread_rec layout changed");

enum class DecodeError { kShort, kBadKind, kBadSize };

// Copy a fixed-size, maybe unterminated char array into a string.
std::string fixed_string(const char *s, size_t n);

core::Costs decode_costs(const ks_costs &c);

// Decode one record of the dump_threads iterator. `data` may be unaligned.
std::optional<core::ThreadCosts> decode_thread(const void *data, size_t size);

// Decode one ring-buffer record of kind KS_REC_SPAN. `data` may be unaligned.
std::optional<core::Span> decode_span(const void *data, size_t size, const core::ClockOffset &clock,
                                      DecodeError *err = nullptr);

} // namespace kernspan::collect
