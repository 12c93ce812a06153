// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "collect/link.hpp"

#include <atomic>
#include <thread>
#include <vector>

namespace kernspan::collect {

// The first uprobe registered after a quiet spell waits for an RCU grace
// period, 6-15 ms here: registering takes dup_mmap_sem for writing, and that
// semaphore's rcu_sync returns to its slow mode one grace period after the
// last writer left. So while the programs load, a helper thread registers a
// uprobe on an empty memfd that nothing maps (a multi-uprobe link of an empty
// program), one every 4 ms: the first pays the grace period in parallel with
// the verifier, the others keep the fast mode on, and kernspan's own probes
// then register in microseconds. Unregistering is the slow part (one grace
// period, ~85 ms): the placeholders stay open until detach, which hands them
// to its grandchild (hand_off_perf_fds); the destructor does the same if
// detach never ran.
class UprobeWarmup {
public:
  UprobeWarmup() = default;
  UprobeWarmup(const UprobeWarmup &) = delete;
  UprobeWarmup &operator=(const UprobeWarmup &) = delete;
  ~UprobeWarmup();

  void start();

  // Stop registering (the placeholders stay open). Waits for a
  // registration in progress: attach would wait for the same grace period.
  void stop();

  // The placeholder links, for detach's hand-off (after stop()).
  [[nodiscard]] std::vector<int> links() const;
  // After that hand-off: the numbers now name /dev/null.
  void handed_off() { links_.clear(); }

private:
  void run();

  static constexpr int kMaxPlaceholders = 300;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::vector<Link> links_; // written by the thread until stop()
};

} // namespace kernspan::collect
