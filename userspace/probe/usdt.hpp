// SPDX-License-Identifier: Apache-2.0
// USDT probes described by an object's .note.stapsdt ELF notes.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kernspan::probe {

struct UsdtProbe {
  std::string object; // path as given
  std::string provider;
  std::string name;
  std::string args;              // "8@%rax -4@$1"
  uint64_t pc = 0;               // link-time address of the probe site
  uint64_t base = 0;             // link-time address of .stapsdt.base (0 if none)
  uint64_t semaphore = 0;        // link-time address, 0 if none
  unsigned site_bytes = 0;       // NOP length at the site (1, 5, ...), 0 if unknown
  uint64_t site_offset = 0;      // file offset of the site (.stapsdt.base applied), 0 if unknown
  uint64_t semaphore_offset = 0; // file offset of the semaphore, 0 if none
};

// Every USDT probe in the object. Throws ProbeError if the file cannot be
// read or is not ELF. An ELF object without probes gives an empty list.
std::vector<UsdtProbe> read_usdt_probes(const std::string &path);

struct ObjectProbes {
  std::string object;    // path in the target's view
  std::string open_path; // path we open (see host_path)
  std::vector<UsdtProbe> probes;
};

// USDT probes of `provider` (all if empty) in every object the process maps.
// Objects that cannot be parsed are skipped. `searched` receives the list of
// objects looked at, for error messages.
std::vector<ObjectProbes> find_process_usdt(pid_t pid, const std::string &provider,
                                            std::vector<std::string> *searched = nullptr);

} // namespace kernspan::probe
