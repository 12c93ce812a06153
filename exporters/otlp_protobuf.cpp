// SPDX-License-Identifier: Apache-2.0
// OTLP protobuf bodies. Apart from the OTLP/JSON encoder because it needs
// libprotobuf: it is built into the network exporters (libkernspan-net.so),
// so a plain trace never loads that library.
#include <type_traits>
#include <variant>

#include "exporters/otlp_common.hpp"
#include "exporters/otlp_encode.hpp"
#include "exporters/utf8.hpp"
#include "otlp_trace.pb.h"

namespace kernspan::exporters {
namespace {

using namespace otlp_detail;
namespace pb = kernspan::otlp;

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

} // namespace

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
