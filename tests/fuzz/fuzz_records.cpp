// SPDX-License-Identifier: Apache-2.0
// Ring-buffer and iterator records as the collector decodes them: any bytes
// of any length are decoded or refused, never read past their end.
#include "collect/pairs.hpp"
#include "collect/records.hpp"
#include "fuzz_util.hpp"
#include "probe/span_spec.hpp"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // An exact-size copy: ASan sees any read past the record.
  const std::vector<uint8_t> rec(data, data + size);
  const kernspan::core::ClockOffset clock(1'000'000'000);
  kernspan::collect::DecodeError err{};
  (void)kernspan::collect::decode_span(rec.data(), rec.size(), clock, &err);
  (void)kernspan::collect::decode_fn_span(rec.data(), rec.size(), clock, &err);
  (void)kernspan::collect::decode_thread(rec.data(), rec.size());
  // Pair records: a name read at the begin and string attributes on both
  // sides, so every string of the packed tail is looked at.
  static const std::vector<kernspan::probe::SpanSpec> pairs{
      kernspan::probe::parse_span_spec("p:a..p:b,name=sql(arg0),attr.i=arg1,attr.s=str(arg2),attr."
                                       "t=str(end.arg1),attr.u=str(arg3)")};
  (void)kernspan::collect::decode_pair_span(rec.data(), rec.size(), clock, pairs, &err);
  return 0;
}
