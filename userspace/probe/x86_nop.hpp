// SPDX-License-Identifier: Apache-2.0
// Which probe sites the x86-64 kernel may turn into a `call` to its
// [uprobes-trampoline] page ("optimized uprobes", Linux 6.18): a site whose
// instruction is a no-op exactly five bytes long, either prefixes + 0x90 or
// a NOPL (0f 1f /0) with its ModRM/SIB/displacement bytes. Other sites are
// emulated or single-stepped and never rewritten that way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace kernspan::probe {

// Length of the no-op instruction at the start of `code` (legacy prefixes,
// an optional REX prefix, then 0x90 or 0f 1f /0), 0 if it is not one or the
// bytes end first.
size_t x86_nop_length(std::span<const uint8_t> code);

// True if `code` starts with a five-byte no-op: a site the kernel may
// optimize.
inline bool is_optimizable_nop5(std::span<const uint8_t> code) {
  return x86_nop_length(code) == 5;
}

} // namespace kernspan::probe
