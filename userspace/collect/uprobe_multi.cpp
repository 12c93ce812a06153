// SPDX-License-Identifier: Apache-2.0
#include "collect/uprobe_multi.hpp"

#include "collect/collector.hpp"

#include <array>
#include <bpf/bpf.h>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace kernspan::collect {
namespace {

// union bpf_attr's link_create member with the uprobe_multi variant, laid out
// as the kernel has it (checked against /sys/kernel/btf/vmlinux on 6.18:
// `bpftool btf dump file /sys/kernel/btf/vmlinux format raw`, the anonymous
// link_create struct of size 64 and its uprobe_multi struct of size 48).
struct LinkCreateUprobeMulti {
  uint32_t prog_fd;
  uint32_t target_fd; // unused for uprobe_multi
  uint32_t attach_type;
  uint32_t flags; // link flags, none
  uint64_t path;  // const char *
  uint64_t offsets;
  uint64_t ref_ctr_offsets;
  uint64_t cookies;
  uint32_t cnt;
  uint32_t um_flags; // BPF_F_UPROBE_MULTI_RETURN
  uint32_t pid;
  uint32_t pad;
};
static_assert(offsetof(LinkCreateUprobeMulti, path) == 16);
static_assert(offsetof(LinkCreateUprobeMulti, cookies) == 40);
static_assert(offsetof(LinkCreateUprobeMulti, cnt) == 48);
static_assert(offsetof(LinkCreateUprobeMulti, pid) == 56);
static_assert(sizeof(LinkCreateUprobeMulti) == 64);

} // namespace

int uprobe_multi_link(int prog_fd, const std::string &path, std::span<const uint64_t> offsets,
                      std::span<const uint64_t> cookies, bool is_return, pid_t pid,
                      std::span<const uint64_t> ref_ctr_offsets) {
  if (offsets.empty() || offsets.size() != cookies.size() ||
      (!ref_ctr_offsets.empty() && ref_ctr_offsets.size() != offsets.size())) {
    return -EINVAL;
  }
  LinkCreateUprobeMulti a{};
  a.prog_fd = static_cast<uint32_t>(prog_fd);
  a.attach_type = kAttachUprobeMulti;
  a.path = reinterpret_cast<uintptr_t>(path.c_str());
  a.offsets = reinterpret_cast<uintptr_t>(offsets.data());
  a.cookies = reinterpret_cast<uintptr_t>(cookies.data());
  a.ref_ctr_offsets =
      ref_ctr_offsets.empty() ? 0 : reinterpret_cast<uintptr_t>(ref_ctr_offsets.data());
  a.cnt = static_cast<uint32_t>(offsets.size());
  a.um_flags = is_return ? kUprobeMultiReturn : 0;
  a.pid = pid > 0 ? static_cast<uint32_t>(pid) : 0;
  const long fd = syscall(SYS_bpf, BPF_LINK_CREATE, &a, sizeof(a));
  return fd < 0 ? -errno : static_cast<int>(fd);
}

int load_uprobe_multi_program(const char *name, bool send_sigusr1) {
  std::vector<bpf_insn> insns;
  if (send_sigusr1) {
    insns.push_back({BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, SIGUSR1}); // r1 = SIGUSR1
    insns.push_back({BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_send_signal_thread});
  }
  insns.push_back({BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0}); // r0 = 0
  insns.push_back({BPF_JMP | BPF_EXIT, 0, 0, 0, 0});                  // exit
  bpf_prog_load_opts opts{};
  opts.sz = sizeof(opts);
  opts.expected_attach_type = static_cast<bpf_attach_type>(kAttachUprobeMulti);
  const int fd =
      bpf_prog_load(BPF_PROG_TYPE_KPROBE, name, "GPL", insns.data(), insns.size(), &opts);
  return fd < 0 ? -errno : fd;
}

bool multi_uprobe_links_supported() {
  static const bool supported = [] {
    const int prog = load_uprobe_multi_program("ks_feature");
    if (prog < 0) {
      return false;
    }
    const std::array<uint64_t, 1> zero{};
    const int fd =
        uprobe_multi_link(prog, "/nonexistent/kernspan-feature-probe", zero, zero, false, 0);
    close(prog);
    if (fd >= 0) {
      close(fd);
      return true;
    }
    return fd == -ENOENT;
  }();
  return supported;
}

namespace {

// Attaches the sites in one link; where the kernel refuses the set, halves
// it until each refused site stands alone, keeping every part it accepts
// (one bad function does not cost the others). Refused sites go to
// `refused` with the kernel's error.
void attach_parts(int prog_fd, const UprobeAttach &u, std::span<const UprobeSite> sites,
                  bool is_return, std::vector<int> &fds, std::vector<RefusedSite> &refused) {
  std::vector<uint64_t> offsets;
  std::vector<uint64_t> cookies;
  offsets.reserve(sites.size());
  cookies.reserve(sites.size());
  for (const auto &s : sites) {
    offsets.push_back(s.offset);
    cookies.push_back(s.probe_id | (static_cast<uint64_t>(s.nargs) << 32));
  }
  const int fd = uprobe_multi_link(prog_fd, u.object, offsets, cookies, is_return, u.pid);
  if (fd >= 0) {
    fds.push_back(fd);
    return;
  }
  if (u.pid > 0 && kill(u.pid, 0) != 0) {
    throw CollectError("PID " + std::to_string(u.pid) + " exited while attaching");
  }
  if (fd == -ENOMEM || fd == -EMFILE || fd == -EPERM || fd == -ENOENT) {
    throw CollectError("cannot attach " + std::to_string(offsets.size()) + " function " +
                       (is_return ? "return" : "entry") + " probe(s) in " + u.object + ": " +
                       std::strerror(-fd));
  }
  if (sites.size() == 1) {
    refused.push_back({u.object, sites[0].offset, sites[0].probe_id, -fd});
    return;
  }
  const size_t half = sites.size() / 2;
  attach_parts(prog_fd, u, sites.first(half), is_return, fds, refused);
  attach_parts(prog_fd, u, sites.subspan(half), is_return, fds, refused);
}

} // namespace

std::vector<RefusedSite> attach_function_probes(const Plan &plan, int prog_fd, bool is_return,
                                                std::vector<int> &fds) {
  std::vector<RefusedSite> refused;
  for (const auto &u : plan.uprobes) {
    if (u.sites.empty()) {
      continue;
    }
    const size_t before = refused.size();
    attach_parts(prog_fd, u, u.sites, is_return, fds, refused);
    if (refused.size() - before == u.sites.size()) {
      std::string hint;
      const int err = refused.back().error;
      if (err == EINVAL || err == EOPNOTSUPP) {
        hint = " (multi-uprobe links need Linux 6.6 or newer)";
      }
      throw CollectError("cannot attach " + std::to_string(u.sites.size()) + " function " +
                         (is_return ? "return" : "entry") + " probe(s) in " + u.object + ": " +
                         std::strerror(err) + hint);
    }
  }
  return refused;
}

} // namespace kernspan::collect
