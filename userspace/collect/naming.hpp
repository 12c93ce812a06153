// SPDX-License-Identifier: Apache-2.0
// Names of spans and threads that the kernel could not send: span names are
// read from the target (or remembered from an earlier record), thread names
// sent once per thread are remembered by tid. Every read of the system goes
// through an injected function, so the caches are unit-tested with fakes.
#pragma once

#include "collect/plan.hpp"
#include "core/span.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

namespace kernspan::collect {

class SpanNamer {
public:
  // A NUL-terminated string at `addr` in process `tgid`, "" if unreadable.
  using ReadString = std::function<std::string(uint32_t tgid, uint64_t addr)>;
  // A thread's comm, "" when gone.
  using ReadComm = std::function<std::string(uint32_t tgid, uint32_t tid)>;
  // The process that forked `tgid` (a followed child), false if unknown.
  using ParentOf = std::function<bool(uint32_t tgid, uint32_t *parent)>;

  // Entries in each cache: (tgid, address) -> name, tid -> comm.
  static constexpr size_t kMaxNames = 65536;

  // The parent is asked only after set_follow_children(true).
  SpanNamer(ReadString read_string, ReadComm read_comm, ParentOf parent_of);

  // Threads send their comm once (KS_SPAN_COMM_OMITTED afterwards): keep
  // it by tid; a new thread with a reused tid sends its own first.
  void name_thread(core::Span &s);
  // A record of kernspan's own spans: remember the name it carries, or
  // name it (resolve_name) if the kernel could not read it.
  void name_span(core::Span &s, uint64_t name_ptr);
  // A span whose name the kernel could not read (the page holding it not
  // mapped in the target yet, or the process gone): from the cache, else
  // from the process itself (which also maps the page for the next time),
  // else, for a followed child, from the process that forked it (the same
  // image at the same addresses).
  std::string resolve_name(uint32_t tgid, uint64_t ptr);
  // The same into `out` (its capacity reused: no allocation on a hit).
  void resolve_name(uint32_t tgid, uint64_t ptr, std::string &out);
  // A name seen before for (tgid, ptr), or nullptr.
  [[nodiscard]] const std::string *cached(uint32_t tgid, uint64_t ptr) const;
  void set_follow_children(bool follow) { follow_children_ = follow; }

private:
  static uint64_t key_of(uint32_t tgid, uint64_t ptr) {
    return ptr ^ (static_cast<uint64_t>(tgid) << 48);
  }
  ReadString read_string_;
  ReadComm read_comm_;
  ParentOf parent_of_;
  bool follow_children_ = false;
  // Names of spans by (tgid, address in the target): incomplete spans
  // arrive after the target's memory is gone and are named from here.
  std::unordered_map<uint64_t, std::string> names_;
  std::unordered_map<uint32_t, std::string> comms_; // tid -> comm
};

// The span name of a function probe id, "<unknown function>" if out of range.
const std::string &function_name(const Plan &plan, uint32_t probe_id);

// The NUL-terminated string at `addr` in process `pid` ("" if unreadable):
// whole up to `max` bytes, else its first `max` bytes cut with a marker
// (cut_string), as the kernel would have kept it.
std::string read_target_string(uint32_t pid, uint64_t addr, size_t max);
// /proc/TGID/task/TID/comm without its newline, "" when gone.
std::string read_thread_comm(uint32_t tgid, uint32_t tid);

} // namespace kernspan::collect
