// SPDX-License-Identifier: Apache-2.0
// kernspan trace: spans of a running process, live, to files, and a summary.
#include "cli/commands.hpp"
#include "cli/pipeline.hpp"

#include <memory>

namespace kernspan::cli {

Runner add_trace(CLI::App &app) {
  auto opts = std::make_shared<PipelineOptions>();
  auto pid = std::make_shared<pid_t>(0);
  auto quiet = std::make_shared<bool>(false);
  auto *cmd = app.add_subcommand("trace", "trace the spans of a running process");
  cmd->add_option("-p,--pid", *pid, "process to trace")->required();
  cmd->add_option("-d,--duration", opts->duration_s,
                  "stop after SECONDS (default: until Ctrl-C "
                  "or the process exits)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("-q,--quiet", *quiet, "do not print each span, only the summary");
  cmd->add_option("--ringbuf-mb", opts->ringbuf_mb, "ring buffer size in MiB (power of two)")
      ->capture_default_str();
  add_sink_options(*cmd, opts->sinks);
  return [opts, pid, quiet](const Globals &g) {
    opts->pids = {*pid};
    opts->console = !*quiet;
    return run_pipeline(*opts, g);
  };
}

} // namespace kernspan::cli
