// SPDX-License-Identifier: Apache-2.0
// What the collector does with each ring-buffer record, apart from libbpf:
// decode it, name the span (from the record, the name cache, the function
// plan or the target) and its thread, and hand the span to the sinks. The
// collector calls it on every sample; bench/replay.cpp calls it on recorded
// bytes.
#pragma once

#include "collect/naming.hpp"
#include "collect/plan.hpp"
#include "core/clock.hpp"
#include "core/span.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

namespace kernspan::collect {

class RecordHandler {
public:
  using SpanFn = std::function<void(core::Span &&)>;

  // Entries in each of the name and comm caches (what the target controls:
  // bounded; a name not cached is read again from the target).
  static constexpr size_t kMaxNames = 65536;

  // Where a name the kernel could not read comes from, on a cache miss
  // only: a string at an address of a process ("" if unreadable), and the
  // process that forked a followed child (false if none known).
  struct Lookups {
    std::function<std::string(uint32_t pid, uint64_t addr)> read_string;
    std::function<bool(uint32_t child, uint32_t &parent)> parent_of;
  };

  // `plan` and `clock` must outlive the handler; the plan may grow
  // (functions attached later).
  RecordHandler(const Plan &plan, const core::ClockOffset &clock, Lookups lookups = {});

  // One ring-buffer record (`data` may be unaligned). The span passed to
  // on_span is the handler's own, reused for the next record: take what
  // is needed before returning (moving from it is fine).
  void handle(const void *data, size_t size, const SpanFn &on_span);

  [[nodiscard]] uint64_t records() const { return records_; }
  [[nodiscard]] uint64_t decode_errors() const { return decode_errors_; }

  // The cached name of the span at `ptr` in process `tgid`, or nullptr.
  [[nodiscard]] const std::string *cached_name(uint32_t tgid, uint64_t ptr) const;
  // A function probe's name from the plan ("<unknown function>" if none).
  [[nodiscard]] const std::string &function_name(uint32_t probe_id) const;

private:
  void on_span_record(const void *data, size_t size, const SpanFn &on_span);
  void on_fn_record(const void *data, size_t size, const SpanFn &on_span);
  void on_pair_record(const void *data, size_t size, const SpanFn &on_span);
  void name_thread(core::Span &s);
  void resolve_name(uint32_t tgid, uint64_t ptr, std::string &out);

  const Plan &plan_;
  const core::ClockOffset &clock_;
  Lookups lookups_;
  uint64_t records_ = 0;
  uint64_t decode_errors_ = 0;
  // Reused: their strings and attributes keep their memory. Function spans
  // have their own, whose attribute entries stay for the next one.
  core::Span span_;
  core::Span fn_span_;
  // Names of spans by (tgid, address in the target): incomplete spans
  // arrive after the target's memory is gone and are named from here.
  std::unordered_map<uint64_t, std::string> names_;
  std::unordered_map<uint32_t, std::string> comms_; // tid -> comm
};

} // namespace kernspan::collect
