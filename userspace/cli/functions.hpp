// SPDX-License-Identifier: Apache-2.0
// Function uprobes for the CLI: --uprobe specs to plan entries, and the
// matches `kernspan list --functions` shows.
#pragma once

#include "collect/plan.hpp"
#include "probe/functions.hpp"

#include <cstddef>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kernspan::cli {

struct FunctionOptions {
  std::vector<std::string> specs; // --uprobe, repeatable
  size_t max_probes = 1000;       // functions over all specs
  bool raw_entry = false;         // --raw-entry: probe the first instruction
};

struct ObjectFunctions {
  std::string object;    // path as the process sees it
  std::string open_path; // path we open
  std::vector<probe::ElfFunction> functions;
};

// Functions of one spec in the process (pid > 0), or in a file (pid <= 0,
// OBJECT a path), each with its placement. Throws ProbeError when nothing
// matches (naming the nearest functions for a plain name).
ObjectFunctions find_spec_functions(pid_t pid, const probe::UprobeSpec &spec, bool raw_entry);

// Add every --uprobe of `o` to the plan (probe ids continue plan.functions),
// attaching for `pid` (-1: every process running the object). Throws
// ProbeError on a bad spec, no match, or more than o.max_probes functions.
// Returns the objects used.
std::vector<ObjectFunctions> plan_functions(const FunctionOptions &o, pid_t pid,
                                            collect::Plan &plan);

} // namespace kernspan::cli
