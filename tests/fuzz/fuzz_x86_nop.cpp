// SPDX-License-Identifier: Apache-2.0
// The no-op decoder: never reads past its input, never claims more bytes
// than it was given.
#include "fuzz_util.hpp"
#include "probe/x86_nop.hpp"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::vector<uint8_t> code(data, data + size);
  if (kernspan::probe::x86_nop_length(code) > code.size()) {
    __builtin_trap();
  }
  return 0;
}
