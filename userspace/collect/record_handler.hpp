// SPDX-License-Identifier: Apache-2.0
// What the collector does with each ring-buffer record, apart from libbpf:
// decode it, name the span (from the record, the function plan or the
// SpanNamer) and its thread, and hand the span to the sinks. The collector
// calls it on every sample; bench/replay.cpp calls it on recorded bytes.
#pragma once

#include "collect/naming.hpp"
#include "collect/plan.hpp"
#include "core/clock.hpp"
#include "core/span.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace kernspan::collect {

class RecordHandler {
public:
  using SpanFn = std::function<void(core::Span &&)>;

  // `plan` and `clock` must outlive the handler; the plan may grow
  // (functions attached later). Names the kernel could not send come from
  // `namer` (by default one that reads comms from /proc and no target
  // memory, for replayed records).
  RecordHandler(const Plan &plan, const core::ClockOffset &clock, SpanNamer namer = replay_namer());

  // One ring-buffer record (`data` may be unaligned). The span passed to
  // on_span is the handler's own, reused for the next record: take what
  // is needed before returning (moving from it is fine).
  void handle(const void *data, size_t size, const SpanFn &on_span);

  [[nodiscard]] uint64_t records() const { return records_; }
  [[nodiscard]] uint64_t decode_errors() const { return decode_errors_; }

  SpanNamer &namer() { return namer_; }
  [[nodiscard]] const SpanNamer &namer() const { return namer_; }
  // The cached name of the span at `ptr` in process `tgid`, or nullptr.
  [[nodiscard]] const std::string *cached_name(uint32_t tgid, uint64_t ptr) const {
    return namer_.cached(tgid, ptr);
  }

  // A namer for records without a live target: comms from /proc, span
  // names never read from memory, no parents.
  static SpanNamer replay_namer();

private:
  void on_span_record(const void *data, size_t size, const SpanFn &on_span);
  void on_fn_record(const void *data, size_t size, const SpanFn &on_span);
  void on_pair_record(const void *data, size_t size, const SpanFn &on_span);

  const Plan &plan_;
  const core::ClockOffset &clock_;
  SpanNamer namer_;
  uint64_t records_ = 0;
  uint64_t decode_errors_ = 0;
  // Reused: their strings and attributes keep their memory. Function spans
  // have their own, whose attribute entries stay for the next one.
  core::Span span_;
  core::Span fn_span_;
};

} // namespace kernspan::collect
