// SPDX-License-Identifier: Apache-2.0
// USDT pairs (--span) and counted probes (--usdt): the BPF configuration of
// a pair, and its records turned into spans.
#pragma once

#include "collect/records.hpp"
#include "probe/span_spec.hpp"

#include <optional>

namespace kernspan::collect {

static_assert(sizeof(ks_pair_cfg) == 20, "ks_pair_cfg layout changed");
static_assert(sizeof(ks_pair_span_rec) == sizeof(ks_span_rec) + 8 + size_t{8} * KS_PAIR_MAX_ATTRS +
                                              size_t{3} * KS_PAIR_NSTRS + 1,
              "ks_pair_span_rec layout changed");
static_assert(sizeof(ks_pair_span_rec) % 8 == 0, "pair strings follow an 8-byte aligned record");
static_assert(sizeof(ks_pair_strs) == size_t{3} * KS_PAIR_NSTRS + 1, "ks_pair_strs layout");

ks_pair_cfg pair_config(const probe::SpanSpec &spec);

// Attributes of spans named by name=sql(argN) / name=norm(argN): the whole
// text read from the target (OpenTelemetry's database conventions for SQL),
// and a mark when that text was longer than --max-string and was cut (it
// then ends in kCutMark).
constexpr const char *kSqlTextKey = "db.query.text";
constexpr const char *kTextKey = "kernspan.text";
constexpr const char *kTextCut = "kernspan.text_truncated";

// A span whose name is a text read from the target: named by the
// normalized text (spec.name_form), the text itself kept in an attribute
// (and db.system=postgresql for sql() on the postgresql provider); `cut`:
// the text was cut (see kTextCut).
void name_by_text(const probe::SpanSpec &spec, core::Span &span, bool cut);

// The strings of a pair record: those after its fixed part, each as the
// kernel read it (cut ones end in kCutMark, unreadable ones are empty).
// nullopt when the lengths do not add up to `rec_size` (hdr.size) or one is
// longer than KS_MAX_STRING. `data` may be unaligned; `rec_size` bytes of it
// are readable.
struct PairStrings {
  std::string s[KS_PAIR_NSTRS];
  uint8_t state[KS_PAIR_NSTRS] = {};
};
std::optional<PairStrings> decode_pair_strings(const ks_pair_span_rec &r, const void *data,
                                               size_t rec_size);

// Decode a KS_REC_PAIR_SPAN record into a span named and attributed as
// `pairs[pair_id]` says (nullopt for a bad record or unknown pair).
std::optional<core::Span> decode_pair_span(const void *data, size_t size,
                                           const core::ClockOffset &clock,
                                           const std::vector<probe::SpanSpec> &pairs,
                                           DecodeError *err = nullptr);

} // namespace kernspan::collect
