// SPDX-License-Identifier: Apache-2.0
// Pieces of a span that the JSON formats (JSON Lines, Chrome Trace Event
// args) write the same way.
#pragma once

#include "core/span.hpp"
#include "exporters/json_writer.hpp"

namespace kernspan::exporters {

// The span's attributes as members of the object being written, then
// "kernspan.incomplete": true and "kernspan.remote_parent": true when those
// flags are set (each written once, even if an attribute has the same key).
void write_span_attributes(JsonWriter &w, const core::Span &span);

// "costs": {<core::for_each_cost keys>} when the span has costs; nothing
// otherwise.
void write_span_costs(JsonWriter &w, const core::Span &span);

} // namespace kernspan::exporters
