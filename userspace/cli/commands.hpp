// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <sys/types.h>

namespace kernspan::cli {

// Flags of the top-level command, seen by every subcommand.
struct Globals {
  bool verbose = false;
};

// A subcommand registers its flags and returns what to run once parsed.
using Runner = std::function<int(const Globals &)>;

Runner add_trace(CLI::App &app);
Runner add_list(CLI::App &app);
Runner add_top(CLI::App &app);
Runner add_serve(CLI::App &app);
Runner add_check_config(CLI::App &app);
Runner add_syscalls(CLI::App &app);

// One-line error to stderr, "kernspan: error: ...".
void print_error(const std::string &msg);

// Throws probe::ProbeError if PID is not a live process.
void require_process(pid_t pid);

} // namespace kernspan::cli
