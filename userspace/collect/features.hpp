// SPDX-License-Identifier: Apache-2.0
// What this kernel can do, found by asking it once before load (a test load,
// its BTF), never by comparing version numbers. The program table
// (programs.hpp) chooses by these.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kernspan::collect {

struct Features {
  // tp_btf programs load (a two-instruction program on sched_switch): they
  // reach any task's storage; the raw_tp twins are the fallback.
  bool tp_btf = false;
  // The tcp:tcp_sendmsg_locked tracepoint exists (btf_trace_ typedef in the
  // kernel's BTF): retransmit senders are noted where a send begins.
  bool tcp_sendmsg_locked = false;
  // Multi-uprobe links (BPF_TRACE_UPROBE_MULTI) are accepted.
  bool multi_uprobe = false;
  // BTF fields behind the BPF side's CO-RE choices, for the log:
  // sched_entity.cfs_rq (group scheduling: runnable time from the queue)
  // and the err field of tcp_retransmit_skb's record.
  bool cfs_rq_field = false;
  bool retransmit_err_field = false;
  bool btf_read = false; // the kernel's BTF could be read and walked

  // One line for -v: what was found.
  [[nodiscard]] std::string describe() const;
};

// Probes this kernel (~a few ms; the answer is kept for the process's
// life). `force_raw_tp` answers tp_btf = false without asking (tests of
// the fallback variant).
Features probe_features(bool force_raw_tp);

// A .BTF blob (the kernel's: /sys/kernel/btf/vmlinux) walked in place,
// without libbpf's index (which takes ~45 ms to build for vmlinux): only
// what the feature probes need. Holds a view: `raw` must outlive it.
class BtfTypes {
public:
  // Checks the header and that every type's size adds up; nullopt on
  // anything malformed or a kind newer than this walker knows.
  static std::optional<BtfTypes> parse(std::span<const char> raw);
  // Type id of the first type of `kind` (BTF_KIND_*) named `name`, 0 if none.
  [[nodiscard]] uint32_t find(std::string_view name, uint32_t kind) const;
  // Whether the struct or union named `type` has a member named `member`.
  [[nodiscard]] bool has_member(std::string_view type, std::string_view member) const;
  // Calls fn(id, kind, name, offset of the btf_type in the blob) for each
  // type until it returns false.
  template <typename Fn> void for_each(Fn &&fn) const;
  [[nodiscard]] std::string_view name(uint32_t off) const;
  [[nodiscard]] uint32_t u32(size_t off) const;

private:
  std::span<const char> raw_;
  size_t type_off_ = 0;
  size_t type_end_ = 0;
  size_t str_off_ = 0;
  size_t str_len_ = 0;
};

// Bytes that follow a btf_type of `kind` with `vlen` members (the kernel's
// btf_type_size less the btf_type); SIZE_MAX for an unknown kind.
size_t btf_trailer(uint32_t kind, uint32_t vlen);

template <typename Fn> void BtfTypes::for_each(Fn &&fn) const {
  uint32_t id = 1;
  for (size_t at = type_off_; at < type_end_; id++) {
    const uint32_t info = u32(at + 4);
    const uint32_t kind = (info >> 24) & 0x1f;
    if (!fn(id, kind, info & 0xffff, at)) {
      return;
    }
    at += 12 + btf_trailer(kind, info & 0xffff);
  }
}

} // namespace kernspan::collect
