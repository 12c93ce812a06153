// SPDX-License-Identifier: Apache-2.0
#include "exporters/zipkin.hpp"

#include <charconv>
#include <map>
#include <type_traits>
#include <variant>

#include "exporters/json_writer.hpp"

namespace kernspan::exporters {
namespace {

constexpr const char *kIncompleteMessage = "thread exited before the span ended";

std::string to_tag(const core::AttrValue &v) {
  return std::visit(
      [](const auto &x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(x);
        } else {
          char buf[32];
          const auto r = std::to_chars(buf, buf + sizeof(buf), x);
          return std::string(buf, r.ptr);
        }
      },
      v);
}

} // namespace

std::string encode_zipkin(const std::vector<core::Span> &spans, std::string_view service) {
  std::string out;
  out.reserve(64 + spans.size() * 900);
  JsonWriter w(out);
  w.begin_array();
  std::map<std::string, std::string> tags;
  for (const core::Span &s : spans) {
    const uint64_t start_us = s.start_unix_nano / 1000;
    const uint64_t end_us = (s.end_unix_nano + 999) / 1000;
    const uint64_t duration_us = end_us > start_us ? end_us - start_us : 1;
    w.begin_object();
    w.key("traceId");
    w.value(s.trace_id.hex());
    if (s.parent_span_id != 0) {
      w.key("parentId");
      w.value(core::span_id_hex(s.parent_span_id));
    }
    w.key("id");
    w.value(core::span_id_hex(s.span_id));
    w.key("name");
    w.value(s.name);
    w.key("timestamp");
    w.value(start_us);
    w.key("duration");
    w.value(duration_us);
    w.key("localEndpoint");
    w.begin_object();
    w.key("serviceName");
    w.value(service);
    w.end_object();

    tags.clear();
    for (const auto &[k, v] : s.attributes) {
      tags[k] = to_tag(v);
    }
    tags["thread.id"] = std::to_string(s.tid);
    tags["thread.name"] = s.thread;
    if (s.remote_parent) {
      tags["kernspan.remote_parent"] = "true";
    }
    if (s.incomplete) {
      tags["kernspan.incomplete"] = "true";
      tags["error"] = kIncompleteMessage;
    }
    if (s.has_costs) {
      core::for_each_cost(s.costs, [&](const char *key, uint64_t v) {
        tags[std::string("kernspan.") + key] = std::to_string(v);
      });
    }
    w.key("tags");
    w.begin_object();
    for (const auto &[k, v] : tags) {
      w.key(k);
      w.value(v);
    }
    w.end_object();
    w.end_object();
  }
  w.end_array();
  return out;
}

ZipkinSink::ZipkinSink(const ZipkinOptions &options)
    : HttpBatchSink({"zipkin", options.endpoint, "application/json", options.gzip}, options,
                    [service = options.service](const std::vector<core::Span> &spans) {
                      return encode_zipkin(spans, service);
                    }) {}

} // namespace kernspan::exporters
