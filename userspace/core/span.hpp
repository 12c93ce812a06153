// SPDX-License-Identifier: Apache-2.0
// The core model of a finished span. Pure C++: no libbpf, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

namespace kernspan::core {

// 128-bit W3C trace id.
struct TraceId {
  uint64_t hi = 0;
  uint64_t lo = 0;
  [[nodiscard]] bool valid() const { return hi != 0 || lo != 0; }
  [[nodiscard]] std::string hex() const; // 32 lowercase hex digits
  bool operator==(const TraceId &) const = default;
};

// 16 lowercase hex digits of a 64-bit span id.
std::string span_id_hex(uint64_t id);
// The same 16 digits written at dst (no NUL), for writers that must not
// allocate; returns dst + 16.
inline char *put_hex64(char *dst, uint64_t v) {
  constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    dst[i] = kDigits[v & 0xfU];
    v >>= 4;
  }
  return dst + 16;
}
// Parse 16/32 hex digits; false on anything else.
bool parse_span_id(const std::string &hex, uint64_t &out);
bool parse_trace_id(const std::string &hex, TraceId &out);

// What a span cost its thread, as deltas between begin and end.
struct Costs {
  uint64_t cpu_ns = 0;
  uint64_t offcpu_ns = 0;
  uint64_t runq_ns = 0;
  uint64_t io_wait_ns = 0;
  uint64_t sleep_ns = 0;
  uint64_t syscalls = 0;
  uint64_t syscall_ns = 0;
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
  uint64_t net_tx_bytes = 0;
  uint64_t net_rx_bytes = 0;
  uint64_t tcp_retransmits = 0;
  uint64_t minflt = 0;
  uint64_t majflt = 0;
  uint64_t ctxsw_voluntary = 0;
  uint64_t ctxsw_involuntary = 0;
  bool operator==(const Costs &) const = default;
};

// Visit every cost field with its JSON key, in the documented order.
template <typename C, typename F> void for_each_cost(C &c, F &&f) {
  f("cpu_ns", c.cpu_ns);
  f("offcpu_ns", c.offcpu_ns);
  f("runq_ns", c.runq_ns);
  f("io_wait_ns", c.io_wait_ns);
  f("sleep_ns", c.sleep_ns);
  f("syscalls", c.syscalls);
  f("syscall_ns", c.syscall_ns);
  f("read_bytes", c.read_bytes);
  f("write_bytes", c.write_bytes);
  f("net_tx_bytes", c.net_tx_bytes);
  f("net_rx_bytes", c.net_rx_bytes);
  f("tcp_retransmits", c.tcp_retransmits);
  f("minflt", c.minflt);
  f("majflt", c.majflt);
  f("ctxsw_voluntary", c.ctxsw_voluntary);
  f("ctxsw_involuntary", c.ctxsw_involuntary);
}

using AttrValue = std::variant<int64_t, std::string, bool, double>;

struct Span {
  std::string name;
  TraceId trace_id;
  uint64_t span_id = 0;
  uint64_t parent_span_id = 0; // 0: a root (or a remote parent, see below)
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  uint32_t tgid = 0;
  uint32_t tid = 0;
  std::string thread;         // comm
  uint32_t depth = 0;         // 0 for the outermost span on its thread
  bool remote_parent = false; // parent_span_id came from a traceparent
  bool incomplete = false;    // the thread ended before the span did
  bool has_costs = false;
  Costs costs;
  std::map<std::string, AttrValue> attributes;

  [[nodiscard]] uint64_t duration_ns() const {
    return end_unix_nano > start_unix_nano ? end_unix_nano - start_unix_nano : 0;
  }
  [[nodiscard]] bool is_root() const { return parent_span_id == 0; }
};

} // namespace kernspan::core
