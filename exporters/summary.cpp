// SPDX-License-Identifier: Apache-2.0
#include "exporters/summary.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kernspan::exporters {

namespace {

using Row = std::vector<std::string>;

uint64_t rounded(double v) {
  return static_cast<uint64_t>(std::llround(v));
}

std::vector<const core::NameStats *> pick_rows(const core::SpanStats &stats, size_t max_rows) {
  std::vector<const core::NameStats *> rows;
  for (const auto &entry : stats.by_name()) {
    rows.push_back(&entry.second);
  }
  if (max_rows == 0 || rows.size() <= max_rows) {
    return rows;
  }
  // Most spans first; stable_sort keeps name order among equal counts.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto *a, const auto *b) { return a->count > b->count; });
  rows.resize(max_rows);
  std::sort(rows.begin(), rows.end(),
            [](const auto *a, const auto *b) { return a->name < b->name; });
  return rows;
}

Row make_row(const core::NameStats &s, bool costs) {
  Row row{printable(s.name),
          std::to_string(s.count),
          format_duration(s.quantile(0.50)),
          format_duration(s.quantile(0.90)),
          format_duration(s.quantile(0.99)),
          format_duration(s.max_ns()),
          std::to_string(s.incomplete)};
  if (!costs) {
    return row;
  }
  if (s.with_costs == 0) {
    row.insert(row.end(), 8, "-");
    return row;
  }
  using core::Costs;
  for (auto field : {&Costs::cpu_ns, &Costs::runq_ns, &Costs::io_wait_ns, &Costs::sleep_ns}) {
    row.push_back(format_duration(rounded(s.mean_cost(field))));
  }
  for (auto field :
       {&Costs::read_bytes, &Costs::write_bytes, &Costs::net_tx_bytes, &Costs::net_rx_bytes}) {
    row.push_back(format_bytes(rounded(s.mean_cost(field))));
  }
  return row;
}

std::string render_table(const std::vector<Row> &rows) {
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto &row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  std::string out;
  for (const auto &row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - row[c].size(), ' ');
      if (c == 0) {
        line += row[c] + pad;
      } else {
        line += "  " + pad + row[c];
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + "\n";
  }
  return out;
}

} // namespace

std::string format_summary(const core::SpanStats &stats, const core::DropCounts &drops,
                           const SummaryOptions &options) {
  std::string out;
  if (stats.by_name().empty()) {
    out += "no spans recorded\n";
  } else {
    const bool costs = options.show_costs && stats.any_costs();
    Row header{"name", "count", "p50", "p90", "p99", "max", "incomplete"};
    if (costs) {
      header.insert(header.end(),
                    {"cpu", "runq", "io", "sleep", "read", "write", "net_tx", "net_rx"});
    }
    std::vector<Row> rows{header};
    const auto picked = pick_rows(stats, options.max_rows);
    for (const auto *s : picked) {
      rows.push_back(make_row(*s, costs));
    }
    out += render_table(rows);
    const size_t hidden = stats.by_name().size() - picked.size();
    if (hidden != 0) {
      // Appended piece by piece: `"(" + std::to_string(...)` trips GCC 12's
      // bogus -Wrestrict at -O3 (GCC bug 105329).
      out += '(';
      out += std::to_string(hidden);
      out += " more span names not shown)\n";
    }
    if (stats.overflow_spans() != 0) {
      out += "overflow: " + std::to_string(stats.overflow_spans()) + " spans of about " +
             std::to_string(stats.overflow_names_estimate()) + " names beyond the first " +
             std::to_string(stats.max_names()) + " counted as " + core::SpanStats::kOverflowName +
             " (--max-span-names)\n";
    }
  }
  if (drops.places.empty()) {
    out += "drops: no counters\n";
  } else {
    out += "drops:";
    for (const auto &[place, count] : drops.places) {
      out += " " + place + "=" + std::to_string(count);
    }
    out += " (total " + std::to_string(drops.total()) + ")\n";
  }
  out += "spans: ";
  out += std::to_string(stats.total_spans());
  out += " total, ";
  out += std::to_string(stats.total_incomplete());
  out += " incomplete\n";
  return out;
}

void print_summary(std::FILE *out, const core::SpanStats &stats, const core::DropCounts &drops,
                   const SummaryOptions &options) {
  const std::string text = format_summary(stats, drops, options);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

} // namespace kernspan::exporters
