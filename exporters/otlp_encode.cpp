// SPDX-License-Identifier: Apache-2.0
#include "exporters/otlp_encode.hpp"

#include <type_traits>
#include <variant>

#include "exporters/json_writer.hpp"
#include "exporters/utf8.hpp"
#include "otlp_trace.pb.h"

namespace kernspan::exporters {
namespace {

namespace pb = kernspan::otlp;

constexpr uint32_t kFlagHasIsRemote = 0x100; // Span.flags bit 8
constexpr uint32_t kFlagIsRemote = 0x200;    // Span.flags bit 9
constexpr const char *kScopeName = "kernspan";
constexpr const char *kScopeVersion = "0.1.0";
constexpr const char *kIncompleteMessage = "thread exited before the span ended";

// 8 or 16 big-endian bytes, as OTLP carries ids.
std::string id_bytes(uint64_t hi, uint64_t lo, bool wide) {
  std::string out;
  if (wide) {
    for (int i = 7; i >= 0; i--) {
      out.push_back(static_cast<char>((hi >> (i * 8)) & 0xFF));
    }
  }
  for (int i = 7; i >= 0; i--) {
    out.push_back(static_cast<char>((lo >> (i * 8)) & 0xFF));
  }
  return out;
}

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

uint32_t span_flags(const core::Span &s) {
  return kFlagHasIsRemote | (s.remote_parent ? kFlagIsRemote : 0);
}

// Strings from the traced program are copied as they are when valid UTF-8
// (nearly always), repaired otherwise.
void set_utf8(std::string *out, const std::string &s) {
  if (valid_utf8(s)) {
    *out = s;
  } else {
    *out = sanitize_utf8(s);
  }
}

void add_pb(google::protobuf::RepeatedPtrField<pb::KeyValue> *out, const std::string &key,
            const core::AttrValue &value) {
  pb::KeyValue *kv = out->Add();
  set_utf8(kv->mutable_key(), key);
  pb::AnyValue *v = kv->mutable_value();
  std::visit(
      [&](const auto &x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          v->set_int_value(x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          set_utf8(v->mutable_string_value(), x);
        } else if constexpr (std::is_same_v<T, bool>) {
          v->set_bool_value(x);
        } else {
          v->set_double_value(x);
        }
      },
      value);
}

void to_pb(const Attributes &attrs, google::protobuf::RepeatedPtrField<pb::KeyValue> *out) {
  out->Reserve(static_cast<int>(attrs.size()));
  for (const auto &[key, value] : attrs) {
    add_pb(out, key, value);
  }
}

// "kernspan.<cost>" for each cost, built once.
const std::vector<std::string> &cost_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    core::Costs c;
    core::for_each_cost(
        c, [&](const char *key, uint64_t) { k.push_back(std::string("kernspan.") + key); });
    return k;
  }();
  return keys;
}

// The attributes of span_attributes(), straight into the message.
void span_attributes_pb(const core::Span &s,
                        google::protobuf::RepeatedPtrField<pb::KeyValue> *out) {
  out->Reserve(static_cast<int>(s.attributes.size() + 20));
  for (const auto &[k, v] : s.attributes) {
    add_pb(out, k, v);
  }
  pb::KeyValue *tid = out->Add();
  tid->set_key("thread.id");
  tid->mutable_value()->set_int_value(int64_t{s.tid});
  pb::KeyValue *name = out->Add();
  name->set_key("thread.name");
  set_utf8(name->mutable_value()->mutable_string_value(), s.thread);
  if (s.incomplete) {
    pb::KeyValue *kv = out->Add();
    kv->set_key("kernspan.incomplete");
    kv->mutable_value()->set_bool_value(true);
  }
  if (s.remote_parent) {
    pb::KeyValue *kv = out->Add();
    kv->set_key("kernspan.remote_parent");
    kv->mutable_value()->set_bool_value(true);
  }
  if (s.has_costs) {
    const auto &keys = cost_keys();
    size_t i = 0;
    core::for_each_cost(s.costs, [&](const char *, uint64_t v) {
      pb::KeyValue *kv = out->Add();
      kv->set_key(keys[i++]);
      kv->mutable_value()->set_int_value(static_cast<int64_t>(v));
    });
  }
}

std::string encode_protobuf(const std::vector<core::Span> &spans, const Attributes &resource) {
  // One arena per request: the message's many small parts are freed at once.
  google::protobuf::Arena arena;
  auto *req = google::protobuf::Arena::CreateMessage<pb::ExportTraceServiceRequest>(&arena);
  pb::ResourceSpans *rs = req->add_resource_spans();
  to_pb(resource, rs->mutable_resource()->mutable_attributes());
  pb::ScopeSpans *ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name(kScopeName);
  ss->mutable_scope()->set_version(kScopeVersion);
  ss->mutable_spans()->Reserve(static_cast<int>(spans.size()));
  for (const core::Span &s : spans) {
    pb::Span *p = ss->add_spans();
    p->set_trace_id(id_bytes(s.trace_id.hi, s.trace_id.lo, true));
    p->set_span_id(id_bytes(0, s.span_id, false));
    if (s.parent_span_id != 0) {
      p->set_parent_span_id(id_bytes(0, s.parent_span_id, false));
    }
    set_utf8(p->mutable_name(), s.name);
    p->set_kind(pb::Span::SPAN_KIND_INTERNAL);
    p->set_start_time_unix_nano(s.start_unix_nano);
    p->set_end_time_unix_nano(s.end_unix_nano);
    span_attributes_pb(s, p->mutable_attributes());
    if (s.incomplete) {
      p->mutable_status()->set_code(pb::Status::STATUS_CODE_ERROR);
      p->mutable_status()->set_message(kIncompleteMessage);
    }
    p->set_flags(span_flags(s));
  }
  return req->SerializeAsString();
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

std::string encode_otlp(const std::vector<core::Span> &spans, const Attributes &resource,
                        OtlpEncoding encoding) {
  if (encoding == OtlpEncoding::kProtobuf) {
    return encode_protobuf(spans, resource);
  }
  std::string out;
  out.reserve(256 + spans.size() * 1200);
  append_otlp_json(out, spans, resource);
  return out;
}

} // namespace kernspan::exporters
