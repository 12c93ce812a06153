// SPDX-License-Identifier: Apache-2.0
#include "exporters/otlp_encode.hpp"

#include <variant>

#include "exporters/json_writer.hpp"
#include "exporters/otlp_common.hpp"

namespace kernspan::exporters {
namespace {

using namespace otlp_detail;

// Everything a span carries as attributes, in the order documented.
Attributes span_attributes(const core::Span &s) {
  Attributes a;
  a.reserve(s.attributes.size() + 24);
  for (const auto &[k, v] : s.attributes) {
    a.emplace_back(k, v);
  }
  a.emplace_back("thread.id", int64_t{s.tid});
  a.emplace_back("thread.name", s.thread);
  if (s.incomplete) {
    a.emplace_back("kernspan.incomplete", true);
  }
  if (s.remote_parent) {
    a.emplace_back("kernspan.remote_parent", true);
  }
  if (s.has_costs) {
    core::for_each_cost(s.costs, [&](const char *key, uint64_t v) {
      a.emplace_back(std::string("kernspan.") + key, static_cast<int64_t>(v));
    });
  }
  return a;
}

// OTLP/JSON: 64-bit integers are decimal strings.
void json_u64_string(JsonWriter &w, uint64_t v) {
  w.value(std::to_string(v));
}

// JsonWriter escapes keys and strings and repairs UTF-8 itself.
void json_attributes(JsonWriter &w, const Attributes &attrs) {
  w.begin_array();
  for (const auto &[key, value] : attrs) {
    w.begin_object();
    w.key("key");
    w.value(key);
    w.key("value");
    w.begin_object();
    std::visit(
        [&](const auto &x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            w.key("intValue");
            w.value(std::to_string(x));
          } else if constexpr (std::is_same_v<T, std::string>) {
            w.key("stringValue");
            w.value(x);
          } else if constexpr (std::is_same_v<T, bool>) {
            w.key("boolValue");
            w.value(x);
          } else {
            w.key("doubleValue");
            w.value(x);
          }
        },
        value);
    w.end_object();
    w.end_object();
  }
  w.end_array();
}

} // namespace

void append_otlp_json(std::string &out, const std::vector<core::Span> &spans,
                      const Attributes &resource) {
  JsonWriter w(out);
  w.begin_object();
  w.key("resourceSpans");
  w.begin_array();
  w.begin_object();
  w.key("resource");
  w.begin_object();
  w.key("attributes");
  json_attributes(w, resource);
  w.end_object();
  w.key("scopeSpans");
  w.begin_array();
  w.begin_object();
  w.key("scope");
  w.begin_object();
  w.key("name");
  w.value(kScopeName);
  w.key("version");
  w.value(kScopeVersion);
  w.end_object();
  w.key("spans");
  w.begin_array();
  for (const core::Span &s : spans) {
    w.begin_object();
    w.key("traceId");
    w.value(s.trace_id.hex());
    w.key("spanId");
    w.value(core::span_id_hex(s.span_id));
    if (s.parent_span_id != 0) {
      w.key("parentSpanId");
      w.value(core::span_id_hex(s.parent_span_id));
    }
    w.key("name");
    w.value(s.name);
    w.key("kind");
    w.value(uint64_t{1}); // SPAN_KIND_INTERNAL
    w.key("startTimeUnixNano");
    json_u64_string(w, s.start_unix_nano);
    w.key("endTimeUnixNano");
    json_u64_string(w, s.end_unix_nano);
    w.key("attributes");
    json_attributes(w, span_attributes(s));
    if (s.incomplete) {
      w.key("status");
      w.begin_object();
      w.key("message");
      w.value(kIncompleteMessage);
      w.key("code");
      w.value(uint64_t{2}); // STATUS_CODE_ERROR
      w.end_object();
    }
    w.key("flags");
    w.value(span_flags(s));
    w.end_object();
  }
  w.end_array();
  w.end_object();
  w.end_array();
  w.end_object();
  w.end_array();
  w.end_object();
}

} // namespace kernspan::exporters
