// SPDX-License-Identifier: Apache-2.0
#include "collect/record_handler.hpp"

#include "collect/pairs.hpp"
#include "collect/records.hpp"

#include <array>
#include <cstring>
#include <utility>

namespace kernspan::collect {

namespace {

uint64_t name_key(uint32_t tgid, uint64_t ptr) {
  return ptr ^ (static_cast<uint64_t>(tgid) << 48);
}

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

RecordHandler::RecordHandler(const Plan &plan, const core::ClockOffset &clock, Lookups lookups)
    : plan_(plan), clock_(clock), lookups_(std::move(lookups)) {}

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
  name_thread(span);
  if (span.name.empty() && is_fn_tag(name_ptr)) {
    span.name = function_name(fn_probe_id(name_ptr));
  } else if (span.name.empty()) {
    resolve_name(span.tgid, name_ptr, span.name);
  } else if (names_.size() < kMaxNames) {
    names_.try_emplace(name_key(span.tgid, name_ptr), span.name);
  }
  on_span(std::move(span));
}

void RecordHandler::on_pair_record(const void *data, size_t size, const SpanFn &on_span) {
  auto span = decode_pair_span(data, size, clock_, plan_.pairs);
  if (!span) {
    decode_errors_++;
    return;
  }
  name_thread(*span);
  on_span(std::move(*span));
}

const std::string &RecordHandler::function_name(uint32_t probe_id) const {
  static const std::string unknown = "<unknown function>";
  return probe_id < plan_.functions.size() ? plan_.functions[probe_id].name : unknown;
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
  span.name = function_name(r.probe_id);
  name_thread(span);
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

// Threads send their comm once (KS_SPAN_COMM_OMITTED afterwards): keep
// it by tid; a new thread with a reused tid sends its own first.
void RecordHandler::name_thread(core::Span &s) {
  if (!s.thread.empty()) {
    if (comms_.size() < kMaxNames) {
      comms_[s.tid] = s.thread; // assigned in place when the tid is known
    }
    return;
  }
  auto it = comms_.find(s.tid);
  if (it != comms_.end()) {
    s.thread = it->second;
    return;
  }
  s.thread = read_thread_comm(s.tgid, s.tid);
  if (!s.thread.empty() && comms_.size() < kMaxNames) {
    comms_.emplace(s.tid, s.thread);
  }
}

const std::string *RecordHandler::cached_name(uint32_t tgid, uint64_t ptr) const {
  auto it = names_.find(name_key(tgid, ptr));
  return it != names_.end() ? &it->second : nullptr;
}

// A span whose name the kernel could not read (the page holding it not
// mapped in the target yet, or the process gone): from the cache, else
// from the process itself (which also maps the page for the next time),
// else, for a followed child, from the process that forked it (the same
// image at the same addresses).
void RecordHandler::resolve_name(uint32_t tgid, uint64_t ptr, std::string &out) {
  uint32_t t = tgid;
  for (int depth = 0; depth < 8 && t != 0; depth++) {
    if (auto it = names_.find(name_key(t, ptr)); it != names_.end()) {
      out = it->second;
      return;
    }
    std::string s = lookups_.read_string ? lookups_.read_string(t, ptr) : std::string();
    if (!s.empty() || !plan_.follow.children) {
      if (s.empty()) {
        break;
      }
      if (names_.size() < kMaxNames) {
        names_.emplace(name_key(tgid, ptr), s);
      }
      out = std::move(s);
      return;
    }
    uint32_t parent = 0;
    if (!lookups_.parent_of || !lookups_.parent_of(t, parent)) {
      break;
    }
    t = parent;
  }
  if (names_.size() < kMaxNames) {
    names_.emplace(name_key(tgid, ptr), "<unknown>"); // ask once
  }
  out = "<unknown>";
}

} // namespace kernspan::collect
