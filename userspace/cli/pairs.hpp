// SPDX-License-Identifier: Apache-2.0
// --span and --usdt for the CLI: USDT probes a program already ships, found
// in the process's objects and added to the plan.
#pragma once

#include "collect/plan.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace kernspan::cli {

// Parse every spec, find its probes in the objects PID maps, check argument
// indexes against the probes' notes, and add the attaches to the plan.
// Throws ProbeError (one line) on bad syntax, a probe found in no object, or
// an argument the probe does not have. Returns the number of objects used.
size_t plan_pairs(const std::vector<std::string> &spans, const std::vector<std::string> &usdts,
                  pid_t pid, collect::Plan &plan);

} // namespace kernspan::cli
