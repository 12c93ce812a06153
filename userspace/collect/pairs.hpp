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

// Decode a KS_REC_PAIR_SPAN record into a span named and attributed as
// `pairs[pair_id]` says (nullopt for a bad record or unknown pair).
std::optional<core::Span> decode_pair_span(const void *data, size_t size,
                                           const core::ClockOffset &clock,
                                           const std::vector<probe::SpanSpec> &pairs,
                                           DecodeError *err = nullptr);

} // namespace kernspan::collect
