// SPDX-License-Identifier: Apache-2.0
// What a process has mapped: /proc/PID/maps.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kernspan::probe {

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t offset = 0;
  std::string perms; // "r-xp"
  uint64_t inode = 0;
  std::string path; // empty for anonymous mappings
};

// Parse the text of a maps file (exposed for tests).
std::vector<Mapping> parse_maps(const std::string &text);

// Read /proc/PID/maps; throws ProbeError when the process does not exist.
std::vector<Mapping> read_maps(pid_t pid);

// File-backed objects the process maps executable (executable first, then libraries in
// map order), each once. Pseudo files ([vdso], [heap], memfd…) are skipped.
std::vector<std::string> mapped_objects(pid_t pid);

// A path that names the process's file from our mount namespace: the path
// itself if it is the same file, else /proc/PID/root/PATH.
std::string host_path(pid_t pid, const std::string &path);

// The process's executable path (readlink /proc/PID/exe).
std::string exe_path(pid_t pid);

// The command name (/proc/PID/comm), "" if gone.
std::string comm(pid_t pid);

// Does the process exist (and is not a zombie)?
bool process_alive(pid_t pid);

} // namespace kernspan::probe
