// SPDX-License-Identifier: Apache-2.0
// OTLP trace encoding: ExportTraceServiceRequest bodies as protobuf or as
// OTLP/JSON, shared by the OTLP/HTTP sink and the OTLP JSON file sink.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/span.hpp"

namespace kernspan::exporters {

using Attributes = std::vector<std::pair<std::string, core::AttrValue>>;

enum class OtlpEncoding { kProtobuf, kJson };

// One export request for `spans` (strings UTF-8-repaired): a single
// ResourceSpans with `resource`, one ScopeSpans (scope "kernspan").
// Span attributes: the span's own, thread.id, thread.name, and under
// kernspan.*: incomplete, remote_parent, and every cost (kernspan.cpu_ns,
// …, the keys of core::for_each_cost) when has_costs. Kind INTERNAL; status
// ERROR for incomplete spans, else UNSET; flags mark remote parents (bits 8
// and 9 of Span.flags). JSON follows the OTLP/JSON mapping: lowerCamelCase
// keys, hex ids, 64-bit integers as decimal strings, enums as numbers, on
// one line.
std::string encode_otlp(const std::vector<core::Span> &spans, const Attributes &resource,
                        OtlpEncoding encoding);

// The OTLP/JSON form of encode_otlp, appended to `out` (no newline).
void append_otlp_json(std::string &out, const std::vector<core::Span> &spans,
                      const Attributes &resource);

} // namespace kernspan::exporters
