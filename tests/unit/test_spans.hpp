// SPDX-License-Identifier: Apache-2.0
// Synthetic spans shared by the exporter tests.
#pragma once

#include "core/span.hpp"

namespace kernspan::testing {

inline constexpr core::TraceId kTrace{0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL};
inline constexpr uint64_t kStart = 1'700'000'000'123'456'789ULL; // 2023-11-14 22:13:20 UTC

// A child span: parse, depth 1, 312.5us, with one attribute of each type.
inline core::Span child_span() {
  core::Span s;
  s.name = "parse";
  s.trace_id = kTrace;
  s.span_id = 0x00f067aa0ba902b7ULL;
  s.parent_span_id = 0x1122334455667788ULL;
  s.start_unix_nano = kStart;
  s.end_unix_nano = kStart + 312'500;
  s.tgid = 1200;
  s.tid = 1234;
  s.thread = "worker";
  s.depth = 1;
  s.attributes = {
      {"bytes", int64_t{42}}, {"ok", true}, {"path", std::string("/x")}, {"ratio", 0.25}};
  return s;
}

// A root span: request, 2.5ms, with costs.
inline core::Span root_span() {
  core::Span s;
  s.name = "request";
  s.trace_id = kTrace;
  s.span_id = 0x1122334455667788ULL;
  s.start_unix_nano = kStart - 1'000'000;
  s.end_unix_nano = kStart + 1'500'000;
  s.tgid = 1200;
  s.tid = 1200;
  s.thread = "server";
  s.has_costs = true;
  uint64_t next = 101;
  core::for_each_cost(s.costs, [&](const char *, uint64_t &v) { v = next++; });
  return s;
}

} // namespace kernspan::testing
