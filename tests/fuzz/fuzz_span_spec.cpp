// SPDX-License-Identifier: Apache-2.0
// The --span, --usdt and --uprobe grammars: any text is parsed or refused
// with an error, never a crash.
#include "fuzz_util.hpp"
#include "probe/functions.hpp"
#include "probe/span_spec.hpp"

#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string s = kernspan::fuzz::text(data, size);
  try {
    (void)kernspan::probe::parse_span_spec(s);
  } catch (const std::exception &) {
  }
  try {
    (void)kernspan::probe::parse_probe_ref(s);
  } catch (const std::exception &) {
  }
  try {
    (void)kernspan::probe::parse_uprobe_spec(s);
  } catch (const std::exception &) {
  }
  (void)kernspan::probe::usdt_arg_count(s);
  (void)kernspan::probe::glob_match(s, s);
  return 0;
}
