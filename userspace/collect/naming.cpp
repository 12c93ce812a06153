// SPDX-License-Identifier: Apache-2.0
#include "collect/naming.hpp"

#include "bpf/kernspan.h"
#include "collect/records.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace kernspan::collect {

// The NUL-terminated string at `addr` in process `pid`, read page by page
// ("" if unreadable): whole up to `max` bytes, else its first `max` bytes
// shown as cut (cut_string), as the kernel would have kept it.
std::string read_target_string(uint32_t pid, uint64_t addr, size_t max) {
  std::string out;
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::vector<char> buf(page);
  while (out.size() <= max) {
    const uint64_t want = std::min<uint64_t>(max + 1 - out.size(), page - (addr % page));
    iovec local{buf.data(), want};
    iovec remote{std::bit_cast<void *>(static_cast<uintptr_t>(addr)), want};
    if (process_vm_readv(static_cast<pid_t>(pid), &local, 1, &remote, 1, 0) !=
        static_cast<ssize_t>(want)) {
      return out;
    }
    const size_t n = strnlen(buf.data(), want);
    out.append(buf.data(), n);
    if (n < want) {
      return out;
    }
    addr += want;
  }
  out.resize(max);
  return cut_string(out);
}

std::string read_thread_comm(uint32_t tgid, uint32_t tid) {
  const std::string path =
      "/proc/" + std::to_string(tgid) + "/task/" + std::to_string(tid) + "/comm";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return {};
  }
  char buf[KS_COMM_LEN + 1] = {};
  const ssize_t n = read(fd, buf, KS_COMM_LEN);
  close(fd);
  std::string c(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!c.empty() && (c.back() == '\n' || c.back() == '\0')) {
    c.pop_back();
  }
  return c;
}

const std::string &function_name(const Plan &plan, uint32_t probe_id) {
  static const std::string unknown = "<unknown function>";
  return probe_id < plan.functions.size() ? plan.functions[probe_id].name : unknown;
}

SpanNamer::SpanNamer(ReadString read_string, ReadComm read_comm, ParentOf parent_of)
    : read_string_(std::move(read_string)), read_comm_(std::move(read_comm)),
      parent_of_(std::move(parent_of)) {}

void SpanNamer::name_thread(core::Span &s) {
  if (!s.thread.empty()) {
    if (comms_.size() < kMaxNames) {
      comms_.insert_or_assign(s.tid, s.thread);
    }
    return;
  }
  auto it = comms_.find(s.tid);
  if (it != comms_.end()) {
    s.thread = it->second;
    return;
  }
  s.thread = read_comm_(s.tgid, s.tid);
  if (!s.thread.empty() && comms_.size() < kMaxNames) {
    comms_.emplace(s.tid, s.thread);
  }
}

void SpanNamer::name_span(core::Span &s, uint64_t name_ptr) {
  if (s.name.empty()) {
    resolve_name(s.tgid, name_ptr, s.name);
  } else if (names_.size() < kMaxNames) {
    names_.try_emplace(key_of(s.tgid, name_ptr), s.name);
  }
}

std::string SpanNamer::resolve_name(uint32_t tgid, uint64_t ptr) {
  std::string out;
  resolve_name(tgid, ptr, out);
  return out;
}

void SpanNamer::resolve_name(uint32_t tgid, uint64_t ptr, std::string &out) {
  uint32_t t = tgid;
  for (int depth = 0; depth < 8 && t != 0; depth++) {
    if (auto it = names_.find(key_of(t, ptr)); it != names_.end()) {
      out = it->second;
      return;
    }
    std::string s = read_string_(t, ptr);
    if (!s.empty() || !follow_children_) {
      if (s.empty()) {
        break;
      }
      if (names_.size() < kMaxNames) {
        names_.emplace(key_of(tgid, ptr), s);
      }
      out = std::move(s);
      return;
    }
    uint32_t parent = 0;
    if (!parent_of_(t, &parent)) {
      break;
    }
    t = parent;
  }
  if (names_.size() < kMaxNames) {
    names_.emplace(key_of(tgid, ptr), "<unknown>"); // ask once
  }
  out = "<unknown>";
}

const std::string *SpanNamer::cached(uint32_t tgid, uint64_t ptr) const {
  auto it = names_.find(key_of(tgid, ptr));
  return it != names_.end() ? &it->second : nullptr;
}

} // namespace kernspan::collect
