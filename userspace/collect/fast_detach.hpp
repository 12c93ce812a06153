// SPDX-License-Identifier: Apache-2.0
// Detach in milliseconds: the kernel's slow part of unregistering uprobes
// (an RCU grace period per perf event, one per multi-uprobe link) is handed
// to a detached grandchild that outlives kernspan. See hand_off_perf_fds.
#pragma once

#include <vector>

namespace kernspan::collect {

// Closing a uprobe's perf event unregisters it, and the kernel waits for an
// RCU tasks-trace grace period each time, holding event_mutex: ~110 ms a
// probe here, one after another even from parallel threads. Closing a
// multi-uprobe link waits for one such period for all its probes, without
// the mutex (parallel closes share it). So kernspan does not wait: the
// programs are paused first (they return at once), a detached grandchild
// inherits copies of the perf-event and link fds, we close ours (not the last
// reference, so fast), and once we have exited (its pipe reads EOF) the
// grandchild closes the last references (close_in_parallel) and the kernel
// unregisters the probes. `link_fds`: the multi-uprobe links (the probes'
// and the warm-up's placeholders). Returns false if the hand-off could not
// be made. libbpf's link objects are destroyed as usual afterwards.
bool hand_off_perf_fds(const std::vector<int> &link_fds);

} // namespace kernspan::collect
