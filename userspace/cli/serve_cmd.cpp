// SPDX-License-Identifier: Apache-2.0
// kernspan serve: the trace pipeline as a long-lived exporter, configured by
// a file (cli/config.hpp) instead of flags, without the live console.
#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/pipeline.hpp"
#include "probe/error.hpp"
#include "probe/proc_stats.hpp"

#include <algorithm>
#include <csignal>
#include <memory>
#include <unistd.h>

namespace kernspan::cli {
namespace {

// SIGHUP, which daemons take as "re-read your configuration", would end
// serve by default: killed mid-write, without a summary, a file cut in the
// middle of a record. Reloading (probes, sinks and files swapped while
// running) is not done yet: say so and keep running.
void on_hup(int /*sig*/) {
  constexpr char kMsg[] = "kernspan: reload not supported yet, ignoring SIGHUP (restart "
                          "kernspan serve to apply a changed configuration)\n";
  const ssize_t n = write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1); // async-signal-safe
  (void)n;
}

// SIGHUP handled by on_hup while serve runs; the old disposition after.
class HupIgnorer {
public:
  HupIgnorer() {
    struct sigaction sa {};
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, &old_);
  }
  ~HupIgnorer() { sigaction(SIGHUP, &old_, nullptr); }
  HupIgnorer(const HupIgnorer &) = delete;
  HupIgnorer &operator=(const HupIgnorer &) = delete;

private:
  struct sigaction old_ {};
};

PipelineOptions from_config(const ServeConfig &c) {
  PipelineOptions o;
  o.console = false;
  o.ringbuf_mb = c.ringbuf_mb;
  o.pids = c.pids;
  for (const auto &binary : c.binaries) {
    const auto running = probe::processes_running(binary);
    if (running.empty()) {
      throw probe::ProbeError("no running process executes " + binary +
                              " (serve attaches to the processes running it when it starts)");
    }
    o.pids.insert(o.pids.end(), running.begin(), running.end());
  }
  std::sort(o.pids.begin(), o.pids.end());
  o.pids.erase(std::unique(o.pids.begin(), o.pids.end()), o.pids.end());
  o.functions.specs = c.uprobes;
  o.functions.max_probes = c.max_uprobes;
  o.spans = c.spans;
  o.usdts = c.usdts;
  o.no_costs = !c.costs;
  o.mode = c.mode;
  o.sample_rate = c.sample_rate;
  o.min_duration = c.min_duration;
  o.span_timeout = c.span_timeout;
  o.max_string = c.max_string;
  o.max_spans_per_second = c.max_spans_per_second;
  SinkOptions &s = o.sinks;
  s.service = c.service;
  s.prometheus = c.prometheus;
  s.max_span_names = c.max_span_names;
  s.max_threads = c.max_threads;
  s.otlp = c.otlp;
  s.otlp_encoding = c.otlp_encoding;
  s.otlp_gzip = c.otlp_gzip;
  s.zipkin = c.zipkin;
  s.output = c.output;
  s.format = c.format;
  s.export_timeout_s = c.export_timeout_s;
  return o;
}

} // namespace

Runner add_serve(CLI::App &app) {
  auto path = std::make_shared<std::string>();
  auto max_string = std::make_shared<uint32_t>(256);
  auto *cmd = app.add_subcommand(
      "serve", "run as a long-lived exporter daemon, configured by a YAML (or JSON) file");
  cmd->add_option("-c,--config", *path,
                  "configuration file, YAML or JSON: targets (pid or binary), probes (uprobe, "
                  "span, usdt, costs), sinks (prometheus, otlp, zipkin, output/format, "
                  "export_timeout), service, ringbuf_mb, max_string; see README")
      ->required();
  // Overrides the file's max_string.
  CLI::Option *max_string_opt = add_max_string_option(*cmd, max_string.get());
  cmd->footer("Example config:\n"
              "  service: checkout\n"
              "  targets:\n"
              "    - pid: 4242\n"
              "    - binary: /usr/local/bin/checkout\n"
              "  sinks:\n"
              "    prometheus: 127.0.0.1:9464\n"
              "    otlp: http://localhost:4318\n"
              "Runs until SIGINT/SIGTERM or the exit of every target. SIGHUP is ignored "
              "(reloading the configuration is not supported yet).");
  return [path, max_string, max_string_opt](const Globals &g) {
    const HupIgnorer hup;
    ServeConfig config = load_config(*path);
    if (max_string_opt->count() != 0) {
      config.max_string = *max_string;
    }
    return run_pipeline(from_config(config), g);
  };
}

} // namespace kernspan::cli
