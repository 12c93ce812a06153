// SPDX-License-Identifier: Apache-2.0
#include "exporters/output_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace kernspan::exporters {
namespace {

constexpr size_t kBufferBytes = size_t{1} << 20;

} // namespace

OutputFile::OutputFile(const std::string &path, const char *what) : path_(path) {
  fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    throw std::runtime_error(std::string(what) + ": cannot open '" + path +
                             "' for writing: " + std::strerror(errno));
  }
  struct stat st {};
  regular_ = fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  buf_.reserve(kBufferBytes + (kBufferBytes >> 4));
}

OutputFile::~OutputFile() {
  close();
}

void OutputFile::write(std::string_view data, uint64_t spans) {
  if (fd_ < 0) {
    lost_.fetch_add(spans, std::memory_order_relaxed);
    return;
  }
  buf_.append(data);
  records_.emplace_back(buf_.size(), spans);
  if (buf_.size() >= kBufferBytes) {
    write_out();
  }
}

void OutputFile::write_out() {
  size_t done = 0;
  int err = 0;
  while (done < buf_.size()) {
    const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (err != 0) {
    size_t whole = 0; // bytes of the records written in full
    uint64_t lost = 0;
    for (const auto &[end, spans] : records_) {
      if (end <= done) {
        whole = end;
      } else {
        lost += spans;
      }
    }
    // A record cut by a full disk would leave a line no reader can parse:
    // cut it off again (a pipe or device keeps what it took).
    if (done > whole && regular_ && ftruncate(fd_, written_ + static_cast<off_t>(whole)) == 0 &&
        lseek(fd_, written_ + static_cast<off_t>(whole), SEEK_SET) >= 0) {
      done = whole;
    }
    lost_.fetch_add(lost, std::memory_order_relaxed);
    if (!failed_.exchange(true, std::memory_order_relaxed)) {
      std::fprintf(stderr, "kernspan: cannot write %s: %s; spans are being dropped\n",
                   path_.c_str(), std::strerror(err));
    }
  }
  written_ += static_cast<off_t>(done);
  buf_.clear();
  records_.clear();
}

void OutputFile::flush() {
  if (fd_ >= 0 && !buf_.empty()) {
    write_out();
  }
}

void OutputFile::close() {
  if (fd_ < 0) {
    return;
  }
  flush();
  const int rc = ::close(fd_);
  const int err = errno;
  fd_ = -1;
  // An NFS server may say no only now; EINTR still closed the descriptor.
  if (rc != 0 && err != EINTR && !failed_.exchange(true)) {
    std::fprintf(stderr, "kernspan: cannot write %s: %s; spans are being dropped\n", path_.c_str(),
                 std::strerror(err));
  }
}

} // namespace kernspan::exporters
