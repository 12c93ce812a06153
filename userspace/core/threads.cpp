// SPDX-License-Identifier: Apache-2.0
#include "core/threads.hpp"

#include <algorithm>
#include <unordered_map>

namespace kernspan::core {
namespace {

uint64_t delta(uint64_t after, uint64_t before) {
  return after > before ? after - before : 0; // counters never go back; guard anyway
}

Costs costs_delta(const Costs &after, const Costs &before) {
  uint64_t base[16] = {};
  size_t n = 0;
  for_each_cost(before, [&](const char *, uint64_t v) { base[n++] = v; });
  Costs d = after;
  size_t i = 0;
  for_each_cost(d, [&](const char *, uint64_t &v) { v = delta(v, base[i++]); });
  return d;
}

std::unordered_map<uint32_t, const ThreadCosts *> by_tid(const std::vector<ThreadCosts> &v) {
  std::unordered_map<uint32_t, const ThreadCosts *> m;
  for (const auto &t : v) {
    m[t.tid] = &t;
  }
  return m;
}

double per_s(uint64_t v, uint64_t interval_ns) {
  return interval_ns == 0 ? 0.0 : static_cast<double>(v) * 1e9 / static_cast<double>(interval_ns);
}

double latency(const Costs &d) {
  const uint64_t switches = d.ctxsw_voluntary + d.ctxsw_involuntary;
  return switches == 0 ? 0.0 : static_cast<double>(d.runq_ns) / static_cast<double>(switches);
}

} // namespace

std::vector<ThreadRates> thread_rates(const std::vector<ThreadCosts> &before,
                                      const std::vector<ThreadCosts> &after, uint64_t interval_ns) {
  const auto prev = by_tid(before);
  std::vector<ThreadRates> rows;
  rows.reserve(after.size());
  for (const auto &t : after) {
    const auto it = prev.find(t.tid);
    const Costs d = it != prev.end() ? costs_delta(t.costs, it->second->costs) : t.costs;
    ThreadRates r;
    r.tid = t.tid;
    r.tgid = t.tgid;
    r.comm = t.comm;
    r.cpu_pct = per_s(d.cpu_ns, interval_ns) / 1e7;
    r.runq_pct = per_s(d.runq_ns, interval_ns) / 1e7;
    r.io_pct = per_s(d.io_wait_ns, interval_ns) / 1e7;
    r.sleep_pct = per_s(d.sleep_ns, interval_ns) / 1e7;
    r.runq_latency_ns = latency(d);
    r.syscalls_per_s = per_s(d.syscalls, interval_ns);
    r.read_bps = per_s(d.read_bytes, interval_ns);
    r.write_bps = per_s(d.write_bytes, interval_ns);
    r.net_tx_bps = per_s(d.net_tx_bytes, interval_ns);
    r.net_rx_bps = per_s(d.net_rx_bytes, interval_ns);
    r.totals = t.costs;
    rows.push_back(std::move(r));
  }
  std::sort(rows.begin(), rows.end(), [](const ThreadRates &a, const ThreadRates &b) {
    return a.cpu_pct != b.cpu_pct ? a.cpu_pct > b.cpu_pct : a.tid < b.tid;
  });
  return rows;
}

ThreadRates total_rates(const std::vector<ThreadRates> &rows,
                        const std::vector<ThreadCosts> &before,
                        const std::vector<ThreadCosts> &after) {
  ThreadRates s;
  s.comm = "total";
  for (const auto &r : rows) {
    s.tgid = r.tgid;
    s.cpu_pct += r.cpu_pct;
    s.runq_pct += r.runq_pct;
    s.io_pct += r.io_pct;
    s.sleep_pct += r.sleep_pct;
    s.syscalls_per_s += r.syscalls_per_s;
    s.read_bps += r.read_bps;
    s.write_bps += r.write_bps;
    s.net_tx_bps += r.net_tx_bps;
    s.net_rx_bps += r.net_rx_bps;
  }
  const auto prev = by_tid(before);
  Costs sum;
  for (const auto &t : after) {
    const auto it = prev.find(t.tid);
    const Costs d = it != prev.end() ? costs_delta(t.costs, it->second->costs) : t.costs;
    sum.runq_ns += d.runq_ns;
    sum.ctxsw_voluntary += d.ctxsw_voluntary;
    sum.ctxsw_involuntary += d.ctxsw_involuntary;
  }
  s.runq_latency_ns = latency(sum);
  for (const auto &t : after) {
    s.totals.cpu_ns += t.costs.cpu_ns;
    s.totals.runq_ns += t.costs.runq_ns;
    s.totals.io_wait_ns += t.costs.io_wait_ns;
    s.totals.sleep_ns += t.costs.sleep_ns;
    s.totals.offcpu_ns += t.costs.offcpu_ns;
    s.totals.syscalls += t.costs.syscalls;
    s.totals.read_bytes += t.costs.read_bytes;
    s.totals.write_bytes += t.costs.write_bytes;
    s.totals.net_tx_bytes += t.costs.net_tx_bytes;
    s.totals.net_rx_bytes += t.costs.net_rx_bytes;
  }
  return s;
}

} // namespace kernspan::core
