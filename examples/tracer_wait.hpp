// SPDX-License-Identifier: Apache-2.0
//
// tracer_wait.hpp - wait until a tracer watches every site of our probes.
//
// A USDT semaphore counts attached uprobes: a tracer that attaches a probe
// with N sites (inlining copies a marker) raises it N times, one site after
// another. "Semaphore non-zero" therefore means only that the first site is
// watched. To start work only once all of them are, count the sites of each
// probe in our own .note.stapsdt and wait until the semaphore reaches that
// count, then give the tracer a moment to finish attaching its program to the
// last site. That moment is enough for kernspan's own probes, which it
// attaches with multi-uprobe links (the program is in place before the
// kernel raises a semaphore). A tracer that opens one perf uprobe per site
// (libbpf's generic USDT attach) raises it before attaching the program, so
// a test of that path uses ready_signal.hpp's handshake instead.
// Used by examples/ and bench/ (header-only, no kernspan internals).
#ifndef KERNSPAN_EXAMPLES_TRACER_WAIT_HPP
#define KERNSPAN_EXAMPLES_TRACER_WAIT_HPP

#include <elf.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace kernspan_examples {

// Number of kernspan:`probe` sites in the ELF file `path`; -1 if unreadable.
inline int count_probe_sites(const char *path, const char *probe) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  int count = -1;
  Elf64_Ehdr eh{};
  if (pread(fd, &eh, sizeof eh, 0) == static_cast<ssize_t>(sizeof eh) &&
      memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
      eh.e_shentsize == sizeof(Elf64_Shdr) && eh.e_shnum > 0 && eh.e_shstrndx < eh.e_shnum) {
    std::vector<Elf64_Shdr> sh(eh.e_shnum);
    size_t bytes = sh.size() * sizeof(Elf64_Shdr);
    if (pread(fd, sh.data(), bytes, static_cast<off_t>(eh.e_shoff)) ==
        static_cast<ssize_t>(bytes)) {
      const Elf64_Shdr &strs = sh[eh.e_shstrndx];
      std::vector<char> names(strs.sh_size + 1, '\0');
      if (pread(fd, names.data(), strs.sh_size, static_cast<off_t>(strs.sh_offset)) ==
          static_cast<ssize_t>(strs.sh_size)) {
        count = 0;
        for (const Elf64_Shdr &s : sh) {
          if (s.sh_type != SHT_NOTE || s.sh_name >= strs.sh_size ||
              strcmp(&names[s.sh_name], ".note.stapsdt") != 0) {
            continue;
          }
          std::vector<char> notes(s.sh_size);
          if (pread(fd, notes.data(), s.sh_size, static_cast<off_t>(s.sh_offset)) !=
              static_cast<ssize_t>(s.sh_size)) {
            return close(fd), -1;
          }
          // Each note: Elf64_Nhdr, "stapsdt\0" (padded to 4), then
          // pc, base, semaphore (3 x 8 bytes), "provider\0name\0args\0".
          size_t off = 0;
          while (off + sizeof(Elf64_Nhdr) <= notes.size()) {
            Elf64_Nhdr nh{};
            memcpy(&nh, &notes[off], sizeof nh);
            size_t name_off = off + sizeof nh;
            size_t desc_off = name_off + ((nh.n_namesz + 3u) & ~3u);
            size_t next = desc_off + ((nh.n_descsz + 3u) & ~3u);
            if (next > notes.size()) {
              break;
            }
            if (nh.n_type == 3 && nh.n_descsz > 24) {
              std::string desc(&notes[desc_off + 24], nh.n_descsz - 24);
              const char *provider = desc.c_str();
              const char *name = provider + strlen(provider) + 1;
              if (name < desc.c_str() + desc.size() && strcmp(provider, "kernspan") == 0 &&
                  strcmp(name, probe) == 0) {
                ++count;
              }
            }
            off = next;
          }
        }
      }
    }
  }
  close(fd);
  return count;
}

inline uint64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

inline void sleep_ms(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

struct WatchedProbe {
  const char *name;                         // probe name, e.g. "span_begin"
  const volatile unsigned short *semaphore; // its USDT semaphore
};

// Waits up to `timeout_ms` until every probe's semaphore has reached its site
// count in /proc/self/exe (or is merely non-zero if the notes can't be read),
// then `settle_ms` more. Returns false on timeout or once `stop` is set.
inline bool wait_for_tracer(std::initializer_list<WatchedProbe> probes, long timeout_ms,
                            const std::atomic<bool> &stop, long settle_ms = 10) {
  std::vector<int> need;
  for (const WatchedProbe &p : probes) {
    int n = count_probe_sites("/proc/self/exe", p.name);
    need.push_back(n > 0 ? n : 1);
    if (n <= 0) {
      settle_ms = settle_ms > 100 ? settle_ms : 100;
    }
  }
  const uint64_t deadline = monotonic_ms() + static_cast<uint64_t>(timeout_ms);
  for (;;) {
    bool all = true;
    size_t i = 0;
    for (const WatchedProbe &p : probes) {
      all = all && *p.semaphore >= need[i++];
    }
    if (all) {
      break;
    }
    if (stop.load() || monotonic_ms() >= deadline) {
      return false;
    }
    timespec poll_interval{0, 100'000}; // 0.1 ms: fine enough to time attaching
    nanosleep(&poll_interval, nullptr);
  }
  sleep_ms(settle_ms);
  return !stop.load();
}

} // namespace kernspan_examples

// The semaphore of kernspan probe `probe`, for WatchedProbe.
#define KERNSPAN_EXAMPLES_PROBE(probe)                                                             \
  { #probe, &kernspan_##probe##_semaphore }

namespace kernspan_examples {

// The test programs' start: wait up to 10 s for every site of `probes` to
// be watched; if none is, say so on stderr and exit with status 3.
inline void require_tracer(const char *prog, std::initializer_list<WatchedProbe> probes) {
  const std::atomic<bool> never{false};
  if (!wait_for_tracer(probes, 10000, never)) {
    std::fprintf(stderr, "%s: no tracer attached\n", prog);
    std::exit(3);
  }
}

} // namespace kernspan_examples

// require_tracer for kernspan's own span_begin and span_end.
#define KERNSPAN_EXAMPLES_REQUIRE_SPAN_TRACER(prog)                                                \
  kernspan_examples::require_tracer(                                                               \
      prog, {KERNSPAN_EXAMPLES_PROBE(span_begin), KERNSPAN_EXAMPLES_PROBE(span_end)})

#endif // KERNSPAN_EXAMPLES_TRACER_WAIT_HPP
