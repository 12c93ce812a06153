// SPDX-License-Identifier: Apache-2.0
#include "collect/link.hpp"

#include <bpf/libbpf.h>
#include <unistd.h>
#include <utility>

namespace kernspan::collect {

Link Link::of(bpf_link *link) {
  Link l;
  l.link_ = link;
  return l;
}

Link Link::of_fd(int fd) {
  Link l;
  l.fd_ = fd < 0 ? -1 : fd;
  return l;
}

Link::Link(Link &&o) noexcept
    : link_(std::exchange(o.link_, nullptr)), fd_(std::exchange(o.fd_, -1)) {}

Link &Link::operator=(Link &&o) noexcept {
  if (this != &o) {
    reset();
    link_ = std::exchange(o.link_, nullptr);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

int Link::fd() const {
  if (link_ != nullptr) {
    return bpf_link__fd(link_);
  }
  return fd_;
}

void Link::reset() {
  if (link_ != nullptr) {
    bpf_link__destroy(link_);
    link_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

} // namespace kernspan::collect
