// SPDX-License-Identifier: Apache-2.0
#include "exporters/span_json.hpp"

#include <variant>

namespace kernspan::exporters {

void write_span_attributes(JsonWriter &w, const core::Span &span) {
  for (const auto &[k, v] : span.attributes) {
    if ((k == "kernspan.incomplete" && span.incomplete) ||
        (k == "kernspan.remote_parent" && span.remote_parent)) {
      continue; // written once, below
    }
    w.key(k);
    std::visit([&](const auto &x) { w.value(x); }, v);
  }
  if (span.incomplete) {
    w.key("kernspan.incomplete");
    w.value(true);
  }
  if (span.remote_parent) {
    w.key("kernspan.remote_parent");
    w.value(true);
  }
}

void write_span_costs(JsonWriter &w, const core::Span &span) {
  if (!span.has_costs) {
    return;
  }
  w.key("costs");
  w.begin_object();
  core::for_each_cost(span.costs, [&](const char *key, uint64_t v) {
    w.key(key);
    w.value(v);
  });
  w.end_object();
}

} // namespace kernspan::exporters
