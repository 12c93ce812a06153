// SPDX-License-Identifier: Apache-2.0
// Multi-uprobe links (BPF_TRACE_UPROBE_MULTI, Linux 6.6+) created with the
// bpf() syscall directly: libbpf 1.1 has no wrapper. One link holds every
// uprobe of one object in one direction, and closing it unregisters them all
// behind a single RCU grace period, where perf-event uprobes wait for one
// grace period each (~110 ms here, so minutes for a thousand).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <sys/types.h>

namespace kernspan::collect {

// The kernel's attach type value and return flag (include/uapi/linux/bpf.h);
// Debian 12's headers predate them.
constexpr uint32_t kAttachUprobeMulti = 48; // BPF_TRACE_UPROBE_MULTI
constexpr uint32_t kUprobeMultiReturn = 1u; // BPF_F_UPROBE_MULTI_RETURN

// Loads a program for multi-uprobe links that returns 0 (placeholders,
// feature and kernel tests), or that first sends SIGUSR1 to the thread that
// hit the probe. Returns the program fd, or -errno.
int load_uprobe_multi_program(const char *name, bool send_sigusr1 = false);

// Whether this kernel has multi-uprobe links, found by asking it (once):
// a program loaded for them, and a link request for a path that does not
// exist, which such a kernel refuses with ENOENT (no link is made, so
// nothing waits for a grace period). Never from the version number.
bool multi_uprobe_links_supported();

// Attach `prog_fd` (loaded with expected_attach_type kAttachUprobeMulti) to
// the file offsets in `path`, with one cookie per offset. pid > 0 limits the
// probes to that process (the kernel filters); pid <= 0: every process.
// Returns the link fd, or -errno.
// `ref_ctr_offsets`, if not empty, gives each site's USDT semaphore (file
// offset; the kernel counts attached probes there while the link lives).
int uprobe_multi_link(int prog_fd, const std::string &path, std::span<const uint64_t> offsets,
                      std::span<const uint64_t> cookies, bool is_return, pid_t pid,
                      std::span<const uint64_t> ref_ctr_offsets = {});

} // namespace kernspan::collect

#include "collect/plan.hpp"

#include <vector>

namespace kernspan::collect {

// A function site the kernel refused (e.g. an instruction it cannot probe),
// with the kernel's error number.
struct RefusedSite {
  std::string object;
  uint64_t offset = 0;
  uint32_t probe_id = 0;
  int error = 0;
};

// Attach every object's function sites of the plan in one direction with
// `prog_fd`, appending the link fds to `fds`. Sites the kernel refuses are
// left out and returned; the others are attached. Throws CollectError (one
// line, naming the object) if none of an object's sites can be attached.
std::vector<RefusedSite> attach_function_probes(const Plan &plan, int prog_fd, bool is_return,
                                                std::vector<int> &fds);

} // namespace kernspan::collect
