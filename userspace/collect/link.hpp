// SPDX-License-Identifier: Apache-2.0
// A BPF link as a value: it detaches itself when destroyed. It owns either
// a libbpf bpf_link (tracepoints, USDT through libbpf, iterators) or a bare
// link fd (multi-uprobe links made with bpf() directly, uprobe_multi.hpp).
// Made by the factories in attach.hpp, one per attach kind.
#pragma once

struct bpf_link;

namespace kernspan::collect {

class Link {
public:
  Link() = default;
  static Link of(bpf_link *link); // takes ownership; empty if nullptr
  static Link of_fd(int fd);      // takes ownership; empty if < 0
  ~Link() { reset(); }
  Link(Link &&o) noexcept;
  Link &operator=(Link &&o) noexcept;
  Link(const Link &) = delete;
  Link &operator=(const Link &) = delete;

  [[nodiscard]] bool empty() const { return link_ == nullptr && fd_ < 0; }
  // The link's fd (-1 if empty).
  [[nodiscard]] int fd() const;
  // A bare link fd (multi-uprobe): what the fast-detach hand-off passes on
  // by number; a libbpf link's perf events are found by the hand-off itself.
  [[nodiscard]] bool is_fd() const { return fd_ >= 0; }
  [[nodiscard]] bpf_link *get() const { return link_; }
  void reset(); // detach now

private:
  bpf_link *link_ = nullptr;
  int fd_ = -1;
};

} // namespace kernspan::collect
