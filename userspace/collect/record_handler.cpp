// SPDX-License-Identifier: Apache-2.0
#include "collect/record_handler.hpp"

#include "collect/pairs.hpp"
#include "collect/records.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>

namespace kernspan::collect {

namespace {

// Attribute keys of function spans, made once.
const std::array<std::string, KS_FN_MAX_ARGS> &arg_keys() {
  static const std::array<std::string, KS_FN_MAX_ARGS> keys = [] {
    std::array<std::string, KS_FN_MAX_ARGS> k;
    for (size_t i = 0; i < k.size(); i++) {
      k[i] = "arg" + std::to_string(i);
    }
    return k;
  }();
  return keys;
}

} // namespace

RecordHandler::RecordHandler(const Plan &plan, const core::ClockOffset &clock, SpanNamer namer)
    : plan_(plan), clock_(clock), namer_(std::move(namer)) {}

SpanNamer RecordHandler::replay_namer() {
  return SpanNamer([](uint32_t, uint64_t) { return std::string(); }, read_thread_comm,
                   [](uint32_t, uint32_t *) { return false; });
}

void RecordHandler::handle(const void *data, size_t size, const SpanFn &on_span) {
  uint16_t kind = 0;
  if (size >= sizeof(ks_hdr)) {
    std::memcpy(&kind, static_cast<const char *>(data) + offsetof(ks_hdr, kind), sizeof(kind));
  }
  if (kind == KS_REC_BENCH) {
    return; // --bench-floor-record: only its cost is measured
  }
  records_++;
  if (kind == KS_REC_FN_SPAN) {
    on_fn_record(data, size, on_span);
  } else if (kind == KS_REC_PAIR_SPAN) {
    on_pair_record(data, size, on_span);
  } else {
    on_span_record(data, size, on_span);
  }
}

void RecordHandler::on_span_record(const void *data, size_t size, const SpanFn &on_span) {
  core::Span &span = span_;
  DecodeError err{};
  if (!decode_span_into(span, data, size, clock_, &err)) {
    decode_errors_++;
    return;
  }
  span.attributes.clear();
  uint64_t name_ptr = 0;
  std::memcpy(&name_ptr, static_cast<const char *>(data) + offsetof(ks_span_rec, name_ptr),
              sizeof(name_ptr));
  namer_.name_thread(span);
  if (span.name.empty() && is_fn_tag(name_ptr)) {
    span.name = function_name(plan_, fn_probe_id(name_ptr));
  } else {
    namer_.name_span(span, name_ptr);
  }
  on_span(std::move(span));
}

void RecordHandler::on_pair_record(const void *data, size_t size, const SpanFn &on_span) {
  auto span = decode_pair_span(data, size, clock_, plan_.pairs);
  if (!span) {
    decode_errors_++;
    return;
  }
  namer_.name_thread(*span);
  on_span(std::move(*span));
}

void RecordHandler::on_fn_record(const void *data, size_t size, const SpanFn &on_span) {
  core::Span &span = fn_span_;
  ks_fn_span_rec r;
  DecodeError err{};
  if (!decode_span_part_into(
          span, r, data, size, KS_REC_FN_SPAN, [](const ks_fn_span_rec &) { return true; }, clock_,
          &err)) {
    decode_errors_++;
    return;
  }
  span.name = function_name(plan_, r.probe_id);
  namer_.name_thread(span);
  const uint32_t asked =
      r.probe_id < plan_.functions.size() ? plan_.functions[r.probe_id].nargs : 0;
  const uint32_t nargs = std::min<uint32_t>(r.nargs, KS_FN_MAX_ARGS);
  // The previous span's attribute entries are reused when they are the
  // same keys (the same function, most often): every key is set below, so
  // a map of as many entries as keys set holds exactly those.
  auto &attrs = span.attributes;
  const auto fill = [&] {
    size_t set = 0;
    if (asked > 0) {
      for (uint32_t i = 0; i < nargs && i < asked; i++, set++) {
        attrs[arg_keys()[i]] = static_cast<int64_t>(r.args[i]);
      }
      static const std::string ret_key = "ret";
      attrs[ret_key] = static_cast<int64_t>(r.ret);
      set++;
    }
    return set;
  };
  if (fill() != attrs.size()) {
    attrs.clear();
    fill();
  }
  on_span(std::move(span));
}

} // namespace kernspan::collect
