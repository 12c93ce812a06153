// SPDX-License-Identifier: Apache-2.0
// Ring-buffer and iterator records as the collector decodes them: any bytes
// of any length are decoded or refused, never read past their end.
#include "collect/records.hpp"
#include "fuzz_util.hpp"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // An exact-size copy: ASan sees any read past the record.
  const std::vector<uint8_t> rec(data, data + size);
  const kernspan::core::ClockOffset clock(1'000'000'000);
  kernspan::collect::DecodeError err{};
  (void)kernspan::collect::decode_span(rec.data(), rec.size(), clock, &err);
  (void)kernspan::collect::decode_fn_span(rec.data(), rec.size(), clock, &err);
  (void)kernspan::collect::decode_thread(rec.data(), rec.size());
  return 0;
}
