// SPDX-License-Identifier: Apache-2.0
#include "exporters/top.hpp"

#include "exporters/format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace kernspan::exporters {
namespace {

std::string fixed1(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.1f", v);
  return b;
}

uint64_t round_u64(double v) {
  return v <= 0 ? 0 : static_cast<uint64_t>(std::llround(v));
}

std::vector<std::string> cells(const core::ThreadRates &r, bool total) {
  return {total ? "-" : std::to_string(r.tid),
          printable(r.comm),
          fixed1(r.cpu_pct),
          fixed1(r.runq_pct),
          fixed1(r.io_pct),
          fixed1(r.sleep_pct),
          format_duration(round_u64(r.runq_latency_ns)),
          std::to_string(round_u64(r.syscalls_per_s)),
          format_bytes(round_u64(r.read_bps)),
          format_bytes(round_u64(r.write_bps)),
          format_bytes(round_u64(r.net_tx_bps)),
          format_bytes(round_u64(r.net_rx_bps))};
}

nlohmann::json row_json(const core::ThreadRates &r) {
  nlohmann::json j;
  j["tid"] = r.tid;
  j["comm"] = r.comm;
  j["cpu_pct"] = r.cpu_pct;
  j["runq_pct"] = r.runq_pct;
  j["io_pct"] = r.io_pct;
  j["sleep_pct"] = r.sleep_pct;
  j["runq_latency_ns"] = round_u64(r.runq_latency_ns);
  j["syscalls_per_s"] = r.syscalls_per_s;
  j["read_bytes_per_s"] = r.read_bps;
  j["write_bytes_per_s"] = r.write_bps;
  j["net_tx_bytes_per_s"] = r.net_tx_bps;
  j["net_rx_bytes_per_s"] = r.net_rx_bps;
  nlohmann::json totals = nlohmann::json::object();
  core::for_each_cost(r.totals, [&](const char *key, uint64_t v) { totals[key] = v; });
  j["totals"] = std::move(totals);
  return j;
}

} // namespace

std::string format_top_text(const TopFrame &f) {
  std::vector<std::vector<std::string>> table = {{"TID", "COMM", "CPU%", "RUNQ%", "IO%", "SLEEP%",
                                                  "RUNQ-LAT", "SYSC/s", "READ/s", "WRITE/s",
                                                  "NETTX/s", "NETRX/s"}};
  for (const auto &r : f.rows) {
    table.push_back(cells(r, false));
  }
  table.push_back(cells(f.total, true));
  std::vector<size_t> width(table[0].size(), 0);
  for (const auto &row : table) {
    for (size_t c = 0; c < row.size(); c++) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::string out = "PID " + std::to_string(f.pid) + " (" + printable(f.comm) + ")  " +
                    std::to_string(f.rows.size()) + " threads  interval " + fixed1(f.interval_s) +
                    "s\n";
  for (const auto &row : table) {
    std::string line;
    for (size_t c = 0; c < row.size(); c++) {
      const std::string pad(width[c] - row[c].size(), ' ');
      line += c == 0 ? "" : "  ";
      line += c == 1 ? row[c] + pad : pad + row[c];
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + "\n";
  }
  return out;
}

std::string format_top_json(const TopFrame &f) {
  nlohmann::json j;
  j["unix_nano"] = f.unix_nano;
  j["pid"] = f.pid;
  j["comm"] = f.comm;
  j["interval_s"] = f.interval_s;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto &r : f.rows) {
    rows.push_back(row_json(r));
  }
  j["threads"] = std::move(rows);
  j["total"] = row_json(f.total);
  j["total"].erase("tid");
  return j.dump() + "\n";
}

} // namespace kernspan::exporters
