// SPDX-License-Identifier: Apache-2.0
#include "collect/features.hpp"

#include "collect/uprobe_multi.hpp"

#include <array>
#include <bpf/bpf.h>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <linux/bpf.h>
#include <mutex>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace kernspan::collect {
namespace {

// BTF kinds (include/uapi/linux/btf.h), numbered here: Debian 12's header
// lacks the newest.
constexpr uint32_t kKindInt = 1;
constexpr uint32_t kKindArray = 3;
constexpr uint32_t kKindStruct = 4;
constexpr uint32_t kKindUnion = 5;
constexpr uint32_t kKindEnum = 6;
constexpr uint32_t kKindTypedef = 8;
constexpr uint32_t kKindFuncProto = 13;
constexpr uint32_t kKindVar = 14;
constexpr uint32_t kKindDatasec = 15;
constexpr uint32_t kKindDeclTag = 17;
constexpr uint32_t kKindEnum64 = 19;
constexpr uint32_t kKindMax = 19;

// The kernel's BTF, mapped (sysfs allows it on recent kernels: no copy) or
// else read; empty if neither works.
class KernelBtf {
public:
  KernelBtf() {
    const int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return;
    }
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
      const auto size = static_cast<size_t>(st.st_size);
      void *p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        map_ = p;
        view_ = {static_cast<const char *>(p), size};
      } else { // read in pieces: sysfs returns at most a page a call
        copy_.resize(size);
        size_t got = 0;
        while (got < size) {
          const ssize_t n = read(fd, copy_.data() + got, size - got);
          if (n <= 0) {
            break;
          }
          got += static_cast<size_t>(n);
        }
        copy_.resize(got);
        view_ = copy_;
      }
    }
    close(fd);
  }
  ~KernelBtf() {
    if (map_ != nullptr) {
      munmap(map_, view_.size());
    }
  }
  KernelBtf(const KernelBtf &) = delete;
  KernelBtf &operator=(const KernelBtf &) = delete;
  [[nodiscard]] std::span<const char> bytes() const { return view_; }

private:
  void *map_ = nullptr;
  std::vector<char> copy_;
  std::span<const char> view_;
};

// A tp_btf program (two instructions) on the tracepoint whose btf_trace_
// typedef has `btf_id`: whether the kernel takes tracing programs.
bool tp_btf_loads(uint32_t btf_id) {
  const std::array<bpf_insn, 2> insns{{
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0}, // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},                  // exit
  }};
  bpf_prog_load_opts opts{};
  opts.sz = sizeof(opts);
  opts.expected_attach_type = BPF_TRACE_RAW_TP;
  opts.attach_btf_id = btf_id;
  const int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "ks_probe_btf", "GPL", insns.data(),
                               insns.size(), &opts);
  if (fd < 0) {
    return false;
  }
  close(fd);
  return true;
}

Features probe_once() {
  Features f;
  f.multi_uprobe = multi_uprobe_links_supported();
  const KernelBtf raw;
  auto btf = BtfTypes::parse(raw.bytes());
  if (!btf) {
    return f;
  }
  f.btf_read = true;
  // One walk answers every question (vmlinux has ~125k types).
  uint32_t sched_switch = 0;
  const auto member = [&](size_t at, uint32_t vlen, std::string_view want) {
    for (uint32_t m = 0; m < vlen; m++) { // struct btf_member: name_off, type, offset
      if (btf->name(btf->u32(at + 12 + 12 * static_cast<size_t>(m))) == want) {
        return true;
      }
    }
    return false;
  };
  btf->for_each([&](uint32_t id, uint32_t kind, uint32_t vlen, size_t at) {
    if (kind == kKindTypedef) {
      const std::string_view n = btf->name(btf->u32(at));
      if (sched_switch == 0 && n == "btf_trace_sched_switch") {
        sched_switch = id;
      } else if (n == "btf_trace_tcp_sendmsg_locked") {
        f.tcp_sendmsg_locked = true;
      }
    } else if (kind == kKindStruct) {
      const std::string_view n = btf->name(btf->u32(at));
      if (n == "sched_entity") {
        f.cfs_rq_field = f.cfs_rq_field || member(at, vlen, "cfs_rq");
      } else if (n == "trace_event_raw_tcp_retransmit_skb") {
        f.retransmit_err_field = f.retransmit_err_field || member(at, vlen, "err");
      }
    }
    return true;
  });
  f.tp_btf = sched_switch != 0 && tp_btf_loads(sched_switch);
  return f;
}

} // namespace

size_t btf_trailer(uint32_t kind, uint32_t vlen) {
  switch (kind) {
  case kKindInt:
  case kKindVar:
  case kKindDeclTag:
    return 4;
  case kKindArray:
    return 12;
  case kKindStruct:
  case kKindUnion:
  case kKindDatasec:
  case kKindEnum64:
    return 12 * static_cast<size_t>(vlen);
  case kKindEnum:
  case kKindFuncProto:
    return 8 * static_cast<size_t>(vlen);
  default:
    return kind == 0 || kind > kKindMax ? SIZE_MAX : 0;
  }
}

uint32_t BtfTypes::u32(size_t off) const {
  uint32_t v = 0;
  std::memcpy(&v, raw_.data() + off, sizeof(v));
  return v;
}

std::optional<BtfTypes> BtfTypes::parse(std::span<const char> raw) {
  // struct btf_header: magic, version, flags, hdr_len, then the type and
  // string sections as (offset, length) after the header.
  constexpr size_t kHeader = 24;
  if (raw.size() < kHeader) {
    return std::nullopt;
  }
  BtfTypes t;
  t.raw_ = raw;
  uint16_t magic = 0;
  std::memcpy(&magic, raw.data(), sizeof(magic));
  const uint32_t hdr_len = t.u32(4);
  if (magic != 0xeB9F || hdr_len < kHeader || hdr_len > raw.size()) {
    return std::nullopt;
  }
  const uint64_t type_off = hdr_len + static_cast<uint64_t>(t.u32(8));
  const uint64_t type_len = t.u32(12);
  const uint64_t str_off = hdr_len + static_cast<uint64_t>(t.u32(16));
  const uint64_t str_len = t.u32(20);
  if (type_off + type_len > raw.size() || str_off + str_len > raw.size()) {
    return std::nullopt;
  }
  t.type_off_ = type_off;
  t.type_end_ = type_off + type_len;
  t.str_off_ = str_off;
  t.str_len_ = str_len;
  // Every type must fit: the walks after this read without checking.
  size_t at = t.type_off_;
  while (at < t.type_end_) {
    if (t.type_end_ - at < 12) {
      return std::nullopt;
    }
    const uint32_t info = t.u32(at + 4);
    const size_t more = btf_trailer((info >> 24) & 0x1f, info & 0xffff);
    if (more == SIZE_MAX || more > t.type_end_ - at - 12) {
      return std::nullopt;
    }
    at += 12 + more;
  }
  return t;
}

std::string_view BtfTypes::name(uint32_t off) const {
  if (off >= str_len_) {
    return {};
  }
  const char *s = raw_.data() + str_off_ + off;
  return {s, strnlen(s, str_len_ - off)};
}

uint32_t BtfTypes::find(std::string_view want, uint32_t kind) const {
  uint32_t found = 0;
  for_each([&](uint32_t id, uint32_t k, uint32_t, size_t at) {
    if (k == kind && name(u32(at)) == want) {
      found = id;
    }
    return found == 0;
  });
  return found;
}

bool BtfTypes::has_member(std::string_view type, std::string_view member) const {
  bool has = false;
  for_each([&](uint32_t, uint32_t kind, uint32_t vlen, size_t at) {
    if ((kind == kKindStruct || kind == kKindUnion) && name(u32(at)) == type) {
      for (uint32_t m = 0; m < vlen && !has; m++) { // btf_member: name_off, type, offset
        has = name(u32(at + 12 + 12 * static_cast<size_t>(m))) == member;
      }
    }
    return !has;
  });
  return has;
}

std::string Features::describe() const {
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  return std::string("tp_btf ") + yn(tp_btf) + ", tcp_sendmsg_locked " + yn(tcp_sendmsg_locked) +
         ", multi-uprobe links " + yn(multi_uprobe) + ", sched_entity.cfs_rq " + yn(cfs_rq_field) +
         ", tcp_retransmit_skb.err " + yn(retransmit_err_field) +
         (btf_read ? "" : " (kernel BTF unreadable)");
}

Features probe_features(bool force_raw_tp) {
  static std::once_flag once;
  static Features found;
  std::call_once(once, [] { found = probe_once(); });
  Features f = found;
  if (force_raw_tp) {
    f.tp_btf = false;
  }
  return f;
}

} // namespace kernspan::collect
