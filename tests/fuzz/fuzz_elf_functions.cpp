// SPDX-License-Identifier: Apache-2.0
// ELF symbol tables as the function reader sees them, and entry placement
// (which reads each function's first instructions).
#include "fuzz_util.hpp"
#include "probe/functions.hpp"

#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const kernspan::fuzz::MemFile f(data, size);
  if (!f.ok()) {
    return 0;
  }
  try {
    auto fns = kernspan::probe::read_functions(f.path());
    kernspan::probe::place_entries(f.path(), fns);
  } catch (const std::exception &) {
  }
  return 0;
}
