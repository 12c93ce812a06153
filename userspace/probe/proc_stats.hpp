// SPDX-License-Identifier: Apache-2.0
// A process's CPU, scheduling and I/O counters from /proc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "core/health.hpp"

namespace kernspan::probe {

// From the text of /proc/PID/stat: utime, stime and delayacct_blkio_ticks
// (fields 14, 15 and 42) converted to ns with `ticks_per_second`, and rss
// (field 24, pages) in bytes with `page_size`. The comm
// field may hold spaces and parentheses: fields are counted after the last
// ')'. False if the text is too short.
bool parse_proc_stat(const std::string &text, long ticks_per_second, core::ProcessUsage &out,
                     uint64_t page_size = 4096);
// read_bytes and write_bytes from the text of /proc/PID/io.
bool parse_proc_io(const std::string &text, core::ProcessUsage &out);
// The run-queue wait (second field, ns) from the text of a schedstat file.
std::optional<uint64_t> parse_schedstat_wait(const std::string &text);
// The cgroup v2 path ("0::/a/b" -> "/a/b") from the text of /proc/PID/cgroup;
// nullopt without a v2 line.
std::optional<std::string> parse_cgroup_v2_path(const std::string &text);
// A cgroup's memory.max text: bytes, or nullopt for "max" (no limit) and
// anything unreadable.
std::optional<uint64_t> parse_memory_max(const std::string &text);
// MemTotal from the text of /proc/meminfo, in bytes.
std::optional<uint64_t> parse_meminfo_total(const std::string &text);

// Everything above for a live process: the run-queue wait summed over its
// threads (/proc/PID/task/*/schedstat; threads that already exited are not
// counted), and the memory limit: the nearest memory.max set on the way up
// from its cgroup (/sys/fs/cgroup), else the machine's MemTotal. Blocked-I/O time needs delay
// accounting (sysctl kernel.task_delayacct=1 or the delayacct boot option), else it stays 0.
// nullopt when the process is gone.
std::optional<core::ProcessUsage> read_process_usage(pid_t pid);

// The calling process's effective capabilities, bit n for capability n;
// nullopt if they cannot be read.
std::optional<uint64_t> effective_capabilities();
inline bool has_capability(uint64_t caps, unsigned cap) {
  return cap < 64 && ((caps >> cap) & 1) != 0;
}

// Live processes whose executable is the file at `path` (same device and
// inode as /proc/PID/exe), in PID order; throws ProbeError if `path` does
// not exist. Without CAP_SYS_PTRACE, processes whose executable cannot be
// looked at (other users') are counted in *hidden when given.
std::vector<pid_t> processes_running(const std::string &path, size_t *hidden = nullptr);

} // namespace kernspan::probe
