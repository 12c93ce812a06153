// SPDX-License-Identifier: Apache-2.0
#include "probe/x86_nop.hpp"

namespace kernspan::probe {
namespace {

bool is_legacy_prefix(uint8_t b) {
  switch (b) {
  case 0x66: // operand size
  case 0x67: // address size
  case 0xf2:
  case 0xf3:
  case 0x2e: // segment overrides
  case 0x36:
  case 0x3e:
  case 0x26:
  case 0x64:
  case 0x65:
    return true;
  default:
    return false;
  }
}

// Bytes after the opcode taken by a ModRM byte (itself included) and what
// it implies: a SIB byte and an 8- or 32-bit displacement (64-bit mode).
size_t modrm_length(std::span<const uint8_t> rest) {
  if (rest.empty()) {
    return 0;
  }
  const uint8_t modrm = rest[0];
  const unsigned mod = modrm >> 6;
  const unsigned rm = modrm & 7u;
  size_t n = 1;
  if (mod == 3) {
    return n;
  }
  if (rm == 4) { // SIB follows
    if (rest.size() < 2) {
      return 0;
    }
    n++;
    if (mod == 0 && (rest[1] & 7u) == 5) {
      return n + 4; // no base: disp32
    }
  } else if (mod == 0 && rm == 5) {
    return n + 4; // RIP-relative disp32
  }
  if (mod == 1) {
    n += 1;
  } else if (mod == 2) {
    n += 4;
  }
  return n;
}

} // namespace

size_t x86_nop_length(std::span<const uint8_t> code) {
  size_t i = 0;
  while (i < code.size() && i < 14 && is_legacy_prefix(code[i])) {
    i++;
  }
  if (i < code.size() && (code[i] & 0xf0u) == 0x40) { // REX
    i++;
  }
  if (i >= code.size()) {
    return 0;
  }
  if (code[i] == 0x90) {
    return i + 1;
  }
  if (code[i] != 0x0f || i + 2 >= code.size() || code[i + 1] != 0x1f ||
      ((code[i + 2] >> 3) & 7u) != 0) {
    return 0; // not NOPL r/m (0f 1f /0)
  }
  const size_t m = modrm_length(code.subspan(i + 2));
  if (m == 0 || i + 2 + m > code.size()) {
    return 0;
  }
  return i + 2 + m;
}

} // namespace kernspan::probe
