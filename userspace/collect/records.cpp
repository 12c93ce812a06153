// SPDX-License-Identifier: Apache-2.0
#include "collect/records.hpp"

#include <algorithm>
#include <cstring>

namespace kernspan::collect {

std::string fixed_string(const char *s, size_t n) {
  const void *nul = std::memchr(s, 0, n);
  return {s, nul != nullptr ? static_cast<size_t>(static_cast<const char *>(nul) - s) : n};
}

std::string cut_string(std::string_view kept) {
  // Back over continuation bytes (10xxxxxx) to the last sequence's first
  // byte: drop that sequence when fewer bytes follow it than it announces.
  size_t start = kept.size();
  size_t back = 0;
  while (start > 0 && back < 4 && (static_cast<unsigned char>(kept[start - 1]) & 0xC0U) == 0x80U) {
    start--;
    back++;
  }
  if (start > 0) {
    const auto lead = static_cast<unsigned char>(kept[start - 1]);
    size_t need = 0;
    if ((lead & 0xE0U) == 0xC0U) {
      need = 2;
    } else if ((lead & 0xF0U) == 0xE0U) {
      need = 3;
    } else if ((lead & 0xF8U) == 0xF0U) {
      need = 4;
    }
    if (need != 0 && back + 1 < need) {
      kept = kept.substr(0, start - 1);
    }
  }
  std::string out(kept);
  out += kCutMark;
  return out;
}

core::Costs decode_costs(const ks_costs &c) {
  core::Costs o;
  o.cpu_ns = c.cpu_ns;
  o.offcpu_ns = c.offcpu_ns;
  o.runq_ns = c.runq_ns;
  o.io_wait_ns = c.io_wait_ns;
  o.sleep_ns = c.sleep_ns;
  o.syscalls = c.syscalls;
  o.syscall_ns = c.syscall_ns;
  o.read_bytes = c.read_bytes;
  o.write_bytes = c.write_bytes;
  o.net_tx_bytes = c.net_tx_bytes;
  o.net_rx_bytes = c.net_rx_bytes;
  o.tcp_retransmits = c.tcp_retransmits;
  o.minflt = c.minflt;
  o.majflt = c.majflt;
  o.ctxsw_voluntary = c.ctxsw_voluntary;
  o.ctxsw_involuntary = c.ctxsw_involuntary;
  return o;
}

std::optional<core::ThreadCosts> decode_thread(const void *data, size_t size) {
  ks_thread_rec r;
  if (size < sizeof(r)) {
    return std::nullopt;
  }
  std::memcpy(&r, data, sizeof(r));
  core::ThreadCosts t;
  t.tid = r.tid;
  t.tgid = r.tgid;
  t.ktime_ns = r.ktime;
  t.comm = fixed_string(r.comm, sizeof(r.comm));
  t.costs = decode_costs(r.costs);
  return t;
}

bool decode_span_into(core::Span &s, const void *data, size_t size, const core::ClockOffset &clock,
                      DecodeError *err) {
  auto fail = [err](DecodeError e) {
    if (err != nullptr) {
      *err = e;
    }
    return false;
  };
  ks_hdr h;
  if (size < sizeof(h)) {
    return fail(DecodeError::kShort);
  }
  std::memcpy(&h, data, sizeof(h));
  if (h.kind != KS_REC_SPAN) {
    return fail(DecodeError::kBadKind);
  }
  // Records stop before costs when neither they nor the name were sent, and
  // go on past the costs with the name's bytes when it was.
  if (h.size > size ||
      (h.size != KS_SPAN_REC_NO_COSTS_NO_NAME &&
       (h.size < KS_SPAN_REC_NO_NAME || h.size - KS_SPAN_REC_NO_NAME > KS_MAX_STRING))) {
    return fail(DecodeError::kBadSize);
  }
  ks_span_rec r{};
  std::memcpy(&r, data, std::min<size_t>(h.size, sizeof(r)));
  if ((r.flags & KS_SPAN_HAS_COSTS) != 0 && h.size < KS_SPAN_REC_NO_NAME) {
    return fail(DecodeError::kBadSize);
  }
  if (h.size > KS_SPAN_REC_NO_NAME) {
    const std::string_view name(static_cast<const char *>(data) + KS_SPAN_REC_NO_NAME,
                                h.size - KS_SPAN_REC_NO_NAME);
    if ((r.flags & KS_SPAN_NAME_CUT) != 0) {
      s.name = cut_string(name);
    } else {
      s.name.assign(name); // keeps the reused span's capacity
    }
  } else {
    s.name.clear();
  }
  s.trace_id = {r.trace_id_hi, r.trace_id_lo};
  s.span_id = r.span_id;
  s.parent_span_id = r.parent_span_id;
  s.start_unix_nano = clock.to_unix_ns(r.start_ns);
  s.end_unix_nano = clock.to_unix_ns(r.end_ns >= r.start_ns ? r.end_ns : r.start_ns);
  s.tgid = r.hdr.tgid;
  s.tid = r.hdr.tid;
  // An omitted comm's bytes are whatever the ring buffer held there.
  if ((r.flags & KS_SPAN_COMM_OMITTED) == 0) {
    s.thread = fixed_string(r.comm, sizeof(r.comm));
  } else {
    s.thread.clear();
  }
  s.depth = r.depth;
  s.remote_parent = (r.flags & KS_SPAN_REMOTE_PARENT) != 0;
  s.incomplete = (r.flags & KS_SPAN_INCOMPLETE) != 0;
  s.has_costs = (r.flags & KS_SPAN_HAS_COSTS) != 0;
  s.costs = s.has_costs ? decode_costs(r.costs) : core::Costs{};
  return true;
}

std::optional<core::Span> decode_span(const void *data, size_t size, const core::ClockOffset &clock,
                                      DecodeError *err) {
  core::Span s;
  if (!decode_span_into(s, data, size, clock, err)) {
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> decode_stat_name(const void *data, size_t size) {
  ks_stat_name h;
  if (size < sizeof(h)) {
    return std::nullopt;
  }
  std::memcpy(&h, data, sizeof(h));
  if (h.len > KS_MAX_STRING || h.len > size - sizeof(h)) {
    return std::nullopt;
  }
  const std::string_view name(static_cast<const char *>(data) + sizeof(h), h.len);
  return (h.state & KS_STR_CUT) != 0 ? cut_string(name) : std::string(name);
}

std::optional<FnSpan> decode_fn_span(const void *data, size_t size, const core::ClockOffset &clock,
                                     DecodeError *err) {
  ks_fn_span_rec r;
  auto span = decode_span_part(
      r, data, size, KS_REC_FN_SPAN, [](const ks_fn_span_rec &) { return true; }, clock, err);
  if (!span) {
    return std::nullopt;
  }
  FnSpan out;
  out.span = std::move(*span);
  out.probe_id = r.probe_id;
  out.nargs = r.nargs > KS_FN_MAX_ARGS ? KS_FN_MAX_ARGS : r.nargs;
  std::memcpy(out.args, r.args, sizeof(out.args));
  out.ret = r.ret;
  return out;
}

} // namespace kernspan::collect
