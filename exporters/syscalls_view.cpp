// SPDX-License-Identifier: Apache-2.0
#include "exporters/syscalls_view.hpp"

#include "exporters/format.hpp"
#include "exporters/json_writer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace kernspan::exporters {
namespace {

using core::SyscallStat;

std::vector<std::pair<uint32_t, const SyscallStat *>> top_by_count(const core::SyscallSnapshot &s,
                                                                   size_t top) {
  std::vector<std::pair<uint32_t, const SyscallStat *>> rows;
  rows.reserve(s.by_nr.size());
  for (const auto &[nr, st] : s.by_nr) {
    rows.emplace_back(nr, &st);
  }
  std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) {
    return a.second->count != b.second->count ? a.second->count > b.second->count
                                              : a.first < b.first;
  });
  if (rows.size() > top) {
    rows.resize(top);
  }
  return rows;
}

// The errnos of a syscall, commonest first.
std::vector<std::pair<uint32_t, uint64_t>> by_frequency(const std::map<uint32_t, uint64_t> &m) {
  std::vector<std::pair<uint32_t, uint64_t>> v(m.begin(), m.end());
  std::sort(v.begin(), v.end(), [](const auto &a, const auto &b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return v;
}

// 2^i as bpftrace's hist labels it: 512, 1K, 2M (powers of 1024).
std::string slot_bound(size_t i) {
  if (i == 0) {
    return "0";
  }
  static constexpr const char *kUnits[] = {"", "K", "M", "G", "T", "P", "E"};
  return std::to_string(uint64_t{1} << (i % 10)) + kUnits[std::min<size_t>(i / 10, 6)];
}

} // namespace

std::string errno_name(uint32_t err) {
  const char *n = strerrorname_np(static_cast<int>(err));
  return n != nullptr ? n : std::to_string(err);
}

std::string render_syscall_table(const core::SyscallSnapshot &s, size_t top, double seconds) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%-20s %12s %10s %10s %12s  %s\n", "syscall", "count",
                "per sec", "mean", "total", "errors");
  out += line;
  for (const auto &[nr, st] : top_by_count(s, top)) {
    std::string errors;
    if (st->errors != 0) {
      errors = std::to_string(st->errors) + " (";
      size_t shown = 0;
      for (const auto &[err, n] : by_frequency(st->errnos)) {
        if (shown++ == 3) {
          errors += " ...";
          break;
        }
        errors += (shown > 1 ? " " : "") + errno_name(err) + "=" + std::to_string(n);
      }
      errors += ")";
    }
    std::snprintf(line, sizeof(line), "%-20s %12llu %10.0f %10s %12s  %s\n",
                  core::syscall_name(nr).c_str(), static_cast<unsigned long long>(st->count),
                  seconds > 0 ? static_cast<double>(st->count) / seconds : 0.0,
                  format_duration(st->count != 0 ? st->total_ns / st->count : 0).c_str(),
                  format_duration(st->total_ns).c_str(), errors.c_str());
    out += line;
  }
  if (s.stats_full + s.errno_full + s.no_storage != 0) {
    std::snprintf(line, sizeof(line), "dropped: stats_full=%llu errno_full=%llu no_storage=%llu\n",
                  static_cast<unsigned long long>(s.stats_full),
                  static_cast<unsigned long long>(s.errno_full),
                  static_cast<unsigned long long>(s.no_storage));
    out += line;
  }
  return out;
}

std::string render_log2_bars(std::span<const uint64_t> slots) {
  size_t first = slots.size();
  size_t last = 0;
  uint64_t most = 0;
  for (size_t i = 0; i < slots.size(); i++) {
    if (slots[i] != 0) {
      first = std::min(first, i);
      last = i;
      most = std::max(most, slots[i]);
    }
  }
  std::string out;
  if (most == 0) {
    return out;
  }
  constexpr size_t kWidth = 40;
  char line[160];
  for (size_t i = first; i <= last; i++) {
    const size_t bar = static_cast<size_t>((slots[i] * kWidth + most - 1) / most);
    std::snprintf(line, sizeof(line), "[%s, %s)%*s %10llu |%s%*s|\n", slot_bound(i).c_str(),
                  slot_bound(i + 1).c_str(),
                  static_cast<int>(18 - slot_bound(i).size() - slot_bound(i + 1).size()), "",
                  static_cast<unsigned long long>(slots[i]), std::string(bar, '@').c_str(),
                  static_cast<int>(kWidth - bar), "");
    out += line;
  }
  return out;
}

std::string render_syscall_json(const core::SyscallSnapshot &s, size_t top, double seconds) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("interval_s");
  w.value(seconds);
  w.key("syscalls");
  w.begin_array();
  for (const auto &[nr, st] : top_by_count(s, top)) {
    w.begin_object();
    w.key("name");
    w.value(core::syscall_name(nr));
    w.key("nr");
    w.value(nr);
    w.key("count");
    w.value(st->count);
    w.key("errors");
    w.value(st->errors);
    w.key("total_ns");
    w.value(st->total_ns);
    w.key("errnos");
    w.begin_object();
    for (const auto &[err, n] : by_frequency(st->errnos)) {
      w.key(errno_name(err));
      w.value(n);
    }
    w.end_object();
    w.key("hist");
    w.begin_array();
    size_t last = 0;
    for (size_t i = 0; i < st->hist.size(); i++) {
      last = st->hist[i] != 0 ? i + 1 : last;
    }
    for (size_t i = 0; i < last; i++) {
      w.value(st->hist[i]);
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key("dropped");
  w.begin_object();
  w.key("stats_full");
  w.value(s.stats_full);
  w.key("errno_full");
  w.value(s.errno_full);
  w.key("no_storage");
  w.value(s.no_storage);
  w.end_object();
  w.end_object();
  return out;
}

} // namespace kernspan::exporters
