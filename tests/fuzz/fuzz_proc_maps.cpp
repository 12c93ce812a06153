// SPDX-License-Identifier: Apache-2.0
// /proc/PID/maps text, as parse_maps reads it.
#include "fuzz_util.hpp"
#include "probe/proc_maps.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const auto maps = kernspan::probe::parse_maps(kernspan::fuzz::text(data, size));
  for (const auto &m : maps) {
    if (m.start > m.end) {
      __builtin_trap(); // a mapping that ends before it starts is never kept
    }
  }
  return 0;
}
