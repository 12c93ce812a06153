// SPDX-License-Identifier: Apache-2.0
// Do no harm to the children of a traced process.
//
// Linux 6.18 on x86-64 "optimizes" a uprobe on a five-byte NOP: after the
// first hit it rewrites the site into a `call` to a [uprobes-trampoline]
// page it maps into that process. That page is not copied into a child
// forked afterwards (VM_DONTCOPY), but the rewritten text page is, so every
// child that runs the site jumps to an unmapped address and dies of
// SIGSEGV. kernspan.h's markers are such NOPs, and so are some function
// entries.
//
// What the kernel does is tested at run time, never inferred from its
// version: a throw-away process hits a NOP site twice and forks, and its
// child runs the site (nop_site_behaviour). Where children crash, each NOP
// site is made unoptimizable before kernspan attaches to it: the kernel
// gives up optimizing a probe for good (a flag on the probe, shared by every
// process and every tracer of that file offset) when it finds no free page
// within 2 GiB of the site for its trampoline. A throw-away process maps
// the object inside a reservation with no free page in that window, takes
// one hit on each site under a probe of its own, and the kernel marks them;
// the mark lasts while any probe is registered there, so the guard's links
// stay open as long as kernspan's own.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace kernspan::collect {

enum class NopSiteBehaviour {
  kEmulated,         // each hit is emulated: sites stay as they are
  kOptimizedSafe,    // sites become calls, and a later child runs them fine
  kOptimizedCrashes, // sites become calls, and a later child crashes there
  kUnknown,          // the test could not run: treated as kOptimizedCrashes
};
const char *to_string(NopSiteBehaviour b);

// A uprobe site: file offset, and its USDT semaphore's file offset (0:
// none). The kernel refuses two probes at one site with different
// semaphores, so the guard's probe names the same one as kernspan's.
struct ProbeSite {
  uint64_t offset = 0;
  uint64_t ref_ctr = 0;
  bool operator==(const ProbeSite &) const = default;
  bool operator<(const ProbeSite &o) const {
    return offset != o.offset ? offset < o.offset : ref_ctr < o.ref_ctr;
  }
};

class SiteGuard {
public:
  SiteGuard() = default;
  ~SiteGuard();
  SiteGuard(const SiteGuard &) = delete;
  SiteGuard &operator=(const SiteGuard &) = delete;

  // Before uprobes go on `sites` of `object`: on a kernel
  // whose optimized uprobes harm forked children, makes every five-byte
  // NOP among them unoptimizable for as long as this guard lives. Other
  // sites, and every site elsewhere, cost nothing. Throws CollectError if
  // a site cannot be guarded (kernspan then does not attach).
  void protect(const std::string &object, std::span<const ProbeSite> sites);

  // The kernel's behaviour, tested on first need (a few ms).
  NopSiteBehaviour behaviour();
  // Sites made unoptimizable so far.
  [[nodiscard]] size_t guarded_sites() const { return guarded_.size(); }

  // Link fds (guards and the behaviour test's probe) for detach's hand-off;
  // after it, handed_off() forgets them (the numbers now name /dev/null).
  [[nodiscard]] const std::vector<int> &links() const { return links_; }
  void handed_off();

private:
  int program(bool send_signal);
  void guard(const std::string &object, int fd, const std::vector<ProbeSite> &sites);

  bool tested_ = false;
  NopSiteBehaviour behaviour_ = NopSiteBehaviour::kUnknown;
  int noop_prog_ = -1;
  int signal_prog_ = -1;
  std::vector<int> links_;
  std::set<std::tuple<uint64_t, uint64_t, uint64_t>> guarded_; // (dev, inode, offset)
};

} // namespace kernspan::collect
