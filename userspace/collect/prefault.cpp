// SPDX-License-Identifier: Apache-2.0
#include "collect/prefault.hpp"

#include <algorithm>
#include <fcntl.h>
#include <string>
#include <sys/types.h>
#include <unistd.h>

namespace kernspan::collect {

uint64_t prefault_name_ranges(const std::vector<NameRange> &ranges, uint64_t budget) {
  // One byte per page is enough to fault it in; pread of a byte costs a
  // syscall, so read whole 64 KiB pieces (the kernel copies them anyway).
  constexpr uint64_t kChunk = uint64_t{64} * 1024;
  static thread_local char buf[kChunk];
  uint64_t done = 0;
  pid_t open_pid = -1;
  int fd = -1;
  for (const auto &r : ranges) {
    if (r.pid != open_pid) {
      if (fd >= 0) {
        close(fd);
      }
      open_pid = r.pid;
      fd = open(("/proc/" + std::to_string(r.pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
      continue; // gone, or not ours to read: names are then read later
    }
    for (uint64_t at = r.lo; at < r.hi && done < budget; at += kChunk) {
      const uint64_t want = std::min(kChunk, r.hi - at);
      const ssize_t n = pread(fd, buf, want, static_cast<off_t>(at));
      if (n <= 0) {
        break;
      }
      done += static_cast<uint64_t>(n);
    }
  }
  if (fd >= 0) {
    close(fd);
  }
  return done;
}

} // namespace kernspan::collect
