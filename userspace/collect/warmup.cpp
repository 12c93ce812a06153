// SPDX-License-Identifier: Apache-2.0
#include "collect/warmup.hpp"

#include "collect/fast_detach.hpp"
#include "collect/uprobe_multi.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <spdlog/spdlog.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace kernspan::collect {

UprobeWarmup::~UprobeWarmup() {
  stop();
  if (!links_.empty() && !hand_off_perf_fds(links())) {
    spdlog::debug("could not hand off the uprobe placeholders; closing them in place (slow)");
  }
  links_.clear();
}

void UprobeWarmup::start() {
  if (!multi_uprobe_links_supported()) {
    return; // attach pays the grace period, nothing else changes
  }
  thread_ = std::thread([this] { run(); });
}

void UprobeWarmup::stop() {
  if (thread_.joinable()) {
    stop_ = true;
    thread_.join();
  }
}

std::vector<int> UprobeWarmup::links() const {
  std::vector<int> fds;
  fds.reserve(links_.size());
  for (const Link &l : links_) {
    fds.push_back(l.fd());
  }
  return fds;
}

void UprobeWarmup::run() {
  // Multi-uprobe links, not perf-event uprobes: opening and closing a
  // perf-event uprobe takes the kernel's event_mutex, and closing holds it
  // through an RCU tasks-trace grace period (~85 ms). A previous run's
  // hand-off grandchild closing its placeholders so blocked this run's
  // warm-up for up to 0.4 s. A link needs a program: two instructions.
  const int prog = load_uprobe_multi_program("ks_warmup");
  const int mfd = memfd_create("kernspan-warmup", MFD_CLOEXEC);
  const std::array<char, 16> nops{};
  if (prog >= 0 && mfd >= 0 &&
      write(mfd, nops.data(), nops.size()) == static_cast<ssize_t>(nops.size())) {
    const std::string path = "/proc/self/fd/" + std::to_string(mfd);
    const std::array<uint64_t, 1> zero{};
    for (int i = 0; i < kMaxPlaceholders && !stop_.load(); i++) {
      const int fd = uprobe_multi_link(prog, path, zero, zero, false, 0);
      if (fd < 0) {
        break;
      }
      links_.push_back(Link::of_fd(fd));
      std::this_thread::sleep_for(std::chrono::milliseconds(4));
    }
  }
  if (mfd >= 0) {
    close(mfd);
  }
  if (prog >= 0) {
    close(prog); // the links hold it
  }
}

} // namespace kernspan::collect
