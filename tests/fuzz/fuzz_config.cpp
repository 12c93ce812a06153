// SPDX-License-Identifier: Apache-2.0
// kernspan serve's YAML configuration: parsed or refused with an error.
#include "cli/config.hpp"
#include "fuzz_util.hpp"

#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    (void)kernspan::cli::parse_config(kernspan::fuzz::text(data, size), "fuzz.yaml");
  } catch (const std::exception &) {
  }
  return 0;
}
