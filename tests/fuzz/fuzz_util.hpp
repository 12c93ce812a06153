// SPDX-License-Identifier: Apache-2.0
// Shared by the libFuzzer targets: the input as a string, or as a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace kernspan::fuzz {

inline std::string text(const uint8_t *data, size_t size) {
  return {reinterpret_cast<const char *>(data), size};
}

// The input in a memory file, named by a path the parsers can open.
class MemFile {
public:
  MemFile(const uint8_t *data, size_t size) : fd_(memfd_create("kernspan-fuzz", MFD_CLOEXEC)) {
    if (fd_ >= 0 && size > 0 && write(fd_, data, size) != static_cast<ssize_t>(size)) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~MemFile() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  MemFile(const MemFile &) = delete;
  MemFile &operator=(const MemFile &) = delete;
  [[nodiscard]] bool ok() const { return fd_ >= 0; }
  [[nodiscard]] std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

private:
  int fd_;
};

} // namespace kernspan::fuzz
