// SPDX-License-Identifier: Apache-2.0
#include "core/span.hpp"

namespace kernspan::core {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void append_hex64(std::string &out, uint64_t v) {
  for (int shift = 60; shift >= 0; shift -= 4) {
    out.push_back(kHexDigits[(v >> shift) & 0xfU]);
  }
}

// Exactly `digits` hex digits (either case) into `out`; false otherwise.
bool parse_hex64(const std::string &hex, size_t pos, size_t digits, uint64_t &out) {
  uint64_t v = 0;
  for (size_t i = pos; i < pos + digits; ++i) {
    const char c = hex[i];
    uint64_t d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a') + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint64_t>(c - 'A') + 10;
    } else {
      return false;
    }
    v = (v << 4) | d;
  }
  out = v;
  return true;
}

} // namespace

std::string TraceId::hex() const {
  std::string out;
  out.reserve(32);
  append_hex64(out, hi);
  append_hex64(out, lo);
  return out;
}

std::string span_id_hex(uint64_t id) {
  std::string out;
  out.reserve(16);
  append_hex64(out, id);
  return out;
}

bool parse_span_id(const std::string &hex, uint64_t &out) {
  uint64_t v = 0;
  if (hex.size() != 16 || !parse_hex64(hex, 0, 16, v)) {
    return false;
  }
  out = v;
  return true;
}

bool parse_trace_id(const std::string &hex, TraceId &out) {
  TraceId t;
  if (hex.size() != 32 || !parse_hex64(hex, 0, 16, t.hi) || !parse_hex64(hex, 16, 16, t.lo)) {
    return false;
  }
  out = t;
  return true;
}

} // namespace kernspan::core
