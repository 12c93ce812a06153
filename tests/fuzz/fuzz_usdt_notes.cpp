// SPDX-License-Identifier: Apache-2.0
// ELF files as the stapsdt note reader sees them: parsed or refused.
#include "fuzz_util.hpp"
#include "probe/usdt.hpp"

#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const kernspan::fuzz::MemFile f(data, size);
  if (!f.ok()) {
    return 0;
  }
  try {
    (void)kernspan::probe::read_usdt_probes(f.path());
  } catch (const std::exception &) {
  }
  return 0;
}
