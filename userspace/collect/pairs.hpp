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
                                              size_t{KS_PAIR_MAX_ATTRS} * KS_PAIR_STR_LEN,
              "ks_pair_span_rec layout changed");

ks_pair_cfg pair_config(const probe::SpanSpec &spec);

// Attributes of spans named by name=sql(argN) / name=norm(argN): the whole
// text read from the target (OpenTelemetry's database conventions for SQL),
// and a mark when that text filled the kernel's read buffer
// (KS_NAME_LEN - 1 bytes), so that it may have been cut there.
constexpr const char *kSqlTextKey = "db.query.text";
constexpr const char *kTextKey = "kernspan.text";
constexpr const char *kTextMaybeCut = "kernspan.text_maybe_cut";

// A span whose name is a text read from the target: named by the
// normalized text (spec.name_form), the text itself kept in an attribute
// (and db.system=postgresql for sql() on the postgresql provider).
void name_by_text(const probe::SpanSpec &spec, core::Span &span);

// Decode a KS_REC_PAIR_SPAN record into a span named and attributed as
// `pairs[pair_id]` says (nullopt for a bad record or unknown pair).
std::optional<core::Span> decode_pair_span(const void *data, size_t size,
                                           const core::ClockOffset &clock,
                                           const std::vector<probe::SpanSpec> &pairs,
                                           DecodeError *err = nullptr);

} // namespace kernspan::collect
