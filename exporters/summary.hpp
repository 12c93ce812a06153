// SPDX-License-Identifier: Apache-2.0
// The end-of-run summary: a table per span name, every drop counter, totals.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

#include "core/stats.hpp"
#include "exporters/format.hpp" // format_duration, format_bytes

namespace kernspan::exporters {

struct SummaryOptions {
  // Add mean cost columns (cpu, runq, io, sleep, read, write, net_tx,
  // net_rx) when at least one span had costs.
  bool show_costs = true;
  // 0: every name. Otherwise the max_rows names with the most spans (ties by
  // name), still listed by name, then a line saying how many were left out.
  size_t max_rows = 0;
};

// Layout (columns right-aligned, name left-aligned, two spaces apart):
//   name   count  p50  p90  p99  max  incomplete  [cpu runq io sleep read write net_tx net_rx]
//   <one row per name; "-" in cost columns for names whose spans had no costs>
//   [(N more span names not shown)]
//   [overflow: N spans of about D names beyond the first M counted as __overflow__
//    (--max-span-names)]   (D: SpanStats::overflow_names_estimate)
//   drops: <place>=<n> ... (total T)     or "drops: no counters" if none
//   spans: S total, I incomplete
// With no spans the table is replaced by "no spans recorded".
void print_summary(std::FILE *out, const core::SpanStats &stats, const core::DropCounts &drops,
                   const SummaryOptions &options = {});

// The same text as a string (print_summary writes exactly this).
std::string format_summary(const core::SpanStats &stats, const core::DropCounts &drops,
                           const SummaryOptions &options = {});

} // namespace kernspan::exporters
