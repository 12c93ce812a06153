// SPDX-License-Identifier: Apache-2.0
#include "collect/fast_detach.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace kernspan::collect {
namespace {

// Closes `fds` (uprobe links and perf events) from up to kMaxClosers
// processes at once, in order within each: every close waits for a grace
// period, and those waited for together are one. Each helper drops the
// others' references and waits until this process has dropped its own, so
// that its close is the last reference. Perf-event uprobes still go one at a
// time (the kernel holds event_mutex through the wait); multi-uprobe links
// do not. Called in the hand-off grandchild: async-signal-safe only.
void close_in_parallel(const std::vector<int> &fds) {
  constexpr size_t kMaxClosers = 16;
  const size_t n = std::min(fds.size(), kMaxClosers);
  int go[2];
  if (n < 2 || pipe2(go, O_CLOEXEC) != 0) {
    for (int fd : fds) {
      close(fd);
    }
    return;
  }
  for (size_t k = 0; k < n; k++) {
    if (fork() == 0) { // closes fds k, k + n, k + 2n...
      close(go[1]);
      for (size_t i = 0; i < fds.size(); i++) {
        if (i % n != k) {
          close(fds[i]);
        }
      }
      char c;
      while (read(go[0], &c, 1) > 0 || errno == EINTR) {
      }
      for (size_t i = k; i < fds.size(); i += n) {
        close(fds[i]);
      }
      _exit(0);
    }
  }
  close(go[0]);
  for (int fd : fds) {
    close(fd);
  }
  close(go[1]); // the helpers read EOF: theirs are now the last references
}

} // namespace

bool hand_off_perf_fds(const std::vector<int> &link_fds) {
  std::vector<int> fds = link_fds; // multi-uprobe links: one grace period each
  // The other BPF objects (tracepoint links, programs, maps): the grandchild
  // holds them too, so that freeing them is not part of kernspan's exit, but
  // closes them first, at once: held on, they kept the tracepoint programs
  // attached, paused but run on every syscall and switch, for as long as the
  // unregistering took (seconds).
  std::vector<int> bpf_objs;
  if (DIR *d = opendir("/proc/self/fd")) {
    while (dirent *e = readdir(d)) {
      char target[64] = {};
      const std::string link = std::string("/proc/self/fd/") + e->d_name;
      const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
      const int fd = std::atoi(e->d_name);
      if (n > 0 && std::strcmp(target, "anon_inode:[perf_event]") == 0) {
        fds.push_back(fd);
      } else if (n > 0 && std::strncmp(target, "anon_inode:bpf", 14) == 0 &&
                 std::find(link_fds.begin(), link_fds.end(), fd) == link_fds.end()) {
        bpf_objs.push_back(fd);
      }
    }
    closedir(d);
  }
  if (fds.empty()) {
    return true;
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    return false;
  }
  // The grandchild keeps only these (not, say, the caller's pipes).
  std::vector<int> keep = fds;
  keep.insert(keep.end(), bpf_objs.begin(), bpf_objs.end());
  keep.push_back(pipefd[0]);
  std::sort(keep.begin(), keep.end());
  const pid_t child = fork();
  if (child < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return false;
  }
  if (child == 0) {
    if (fork() == 0) { // grandchild: nobody waits for it
      // kernspan's stop handler would write to a closed (or reused) fd:
      // plain SIGINT and SIGTERM end this process, and its exit closes the
      // rest (the same unregistering, one by one).
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      sigaction(SIGINT, &dfl, nullptr);
      sigaction(SIGTERM, &dfl, nullptr);
      unsigned lo = 0; // close_range: async-signal-safe, unlike a /proc walk
      for (const int fd : keep) {
        if (static_cast<unsigned>(fd) > lo) {
          close_range(lo, static_cast<unsigned>(fd) - 1, 0);
        }
        lo = static_cast<unsigned>(fd) + 1;
      }
      close_range(lo, ~0U, 0);
      char c;
      while (read(pipefd[0], &c, 1) > 0 || errno == EINTR) {
      }
      for (int fd : bpf_objs) {
        close(fd);
      }
      close_in_parallel(fds);
    }
    _exit(0);
  }
  waitpid(child, nullptr, 0);
  close(pipefd[0]);
  // Drop our references but keep the numbers valid: libbpf will disable and
  // close what it thinks are its fds, and must not hit reused numbers.
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (int fd : fds) {
    dup3(devnull, fd, O_CLOEXEC);
  }
  close(devnull);
  // pipefd[1] stays open until we exit: then the grandchild unregisters.
  return true;
}

} // namespace kernspan::collect
