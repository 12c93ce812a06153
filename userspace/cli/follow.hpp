// SPDX-License-Identifier: Apache-2.0
// Following: processes and objects that appear while tracing.
// --follow-children and --binary make the kernel's target set grow; a
// Follower attaches the probes of objects mapped later (dlopen, an exec'd
// child's new image) and the --uprobe specs that wait for their library.
#pragma once

#include "cli/commands.hpp"
#include "collect/collector.hpp"
#include "collect/plan.hpp"
#include "probe/functions.hpp"
#include "probe/usdt.hpp"

#include <chrono>
#include <cstddef>
#include <set>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace kernspan::cli {

struct PipelineOptions;

// kernspan's own span probes in one object, one attach per probe name,
// for `pid` (-1: every process mapping it).
std::vector<collect::UsdtAttach> span_probe_attaches(pid_t pid, const std::string &open_path,
                                                     const std::vector<probe::UsdtProbe> &probes);

// --follow-children and --binary on `trace`; returns the --binary option.
CLI::Option *add_follow_options(CLI::App &cmd, PipelineOptions &o);

// Is following on (the kernel's target set grows)?
bool following(const PipelineOptions &o);

// --binary PATH: the processes running it now become o.pids; `--uprobe`
// specs naming the binary by its file name are rewritten to its path. Throws
// ProbeError when PATH is not a readable file.
void resolve_binary(PipelineOptions &o);

// Moves out of o.functions.specs every --uprobe whose OBJECT is a library
// name no traced process maps yet; they are attached when one maps it.
std::vector<probe::UprobeSpec> take_waiting_specs(PipelineOptions &o);

// Plan for --binary when no process runs it yet: its own kernspan probes
// and --uprobe specs on it, with pid -1. Throws ProbeError when there is
// nothing to attach and nothing waiting.
void plan_binary_file(const PipelineOptions &o, collect::Plan &plan, size_t *objects, bool waiting);

// Turn a plan made for o.pids into one that follows: probes attached with
// pid -1 (the kernel filters by tgid), the kernel flags set.
void apply_following(const PipelineOptions &o, collect::Plan &plan);

class Follower {
public:
  // `searched`: the objects the plan already looked at, by process.
  // `wait_forever`: processes that may map a waiting library can still
  // come (--binary), so waiting is never an error.
  Follower(bool dynamic, uint32_t max_probes, bool raw_entry,
           std::vector<probe::UprobeSpec> waiting,
           const std::vector<std::pair<pid_t, std::string>> &searched, bool wait_forever);

  // Look at the maps of every traced process for executable objects not
  // seen yet, and attach kernspan's probes in them and the waiting --uprobe
  // specs they satisfy. Runs on the collector's tick; failures are printed,
  // never fatal, except one: unless waiting forever, a --uprobe library
  // that no traced process has mapped within kWaitLimit stops the
  // collector, with failure() saying so (a mistyped name would otherwise
  // trace nothing, silently, until Ctrl-C).
  void rescan(collect::Collector &c);

  // Tell the user what is waiting (stderr); the wait limit counts from here.
  void announce();

  // Why the run must fail ("" if it need not): a one-line message.
  [[nodiscard]] const std::string &failure() const { return failure_; }

  static constexpr std::chrono::seconds kWaitLimit{5};

private:
  void consider(collect::Collector &c, pid_t pid, const std::string &object);
  void check_waiting(collect::Collector &c);
  bool dynamic_;
  bool wait_forever_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::set<std::string> matched_; // library names of waiting specs that some object matched
  std::string failure_;
  uint32_t max_probes_;
  bool raw_entry_;
  size_t functions_ = 0; // attached later, against max_probes
  std::vector<probe::UprobeSpec> waiting_;
  std::set<std::pair<pid_t, std::string>> seen_; // (pid, or 0 when dynamic; object)
};

} // namespace kernspan::cli
