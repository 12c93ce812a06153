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
#include <cstdio>
#include <memory>
#include <sys/stat.h>
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
    size_t hidden = 0;
    const auto running = probe::processes_running(binary, &hidden);
    if (running.empty()) {
      throw probe::ProbeError("no running process executes " + binary +
                              " (serve attaches to the processes running it when it starts)" +
                              (hidden != 0
                                   ? "; " + std::to_string(hidden) +
                                         " process(es) of other users could not be inspected: give "
                                         "kernspan CAP_SYS_PTRACE or run it as root"
                                   : std::string()));
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

// Everything serve checks before it attaches, without attaching: the file
// (syntax, keys, values, probe specs: ConfigError names the line), the
// sinks, the mode and that each binary target is an executable file.
// Running processes are not required: they are looked up when serve starts.
void check_config(const std::string &path) {
  const ServeConfig c = load_config(path);
  PipelineOptions o;
  o.sinks.prometheus = c.prometheus;
  o.sinks.otlp = c.otlp;
  o.sinks.otlp_encoding = c.otlp_encoding;
  o.sinks.zipkin = c.zipkin;
  o.sinks.output = c.output;
  o.sinks.format = c.format;
  o.sinks.max_span_names = c.max_span_names;
  o.sinks.max_threads = c.max_threads;
  o.sinks.export_timeout_s = c.export_timeout_s;
  o.mode = c.mode;
  o.sample_rate = c.sample_rate;
  o.min_duration = c.min_duration;
  o.span_timeout = c.span_timeout;
  o.max_spans_per_second = c.max_spans_per_second;
  validate_sink_options(o.sinks);
  collect::Plan plan;
  apply_mode_options(o, plan);
  for (const auto &binary : c.binaries) {
    struct stat st {};
    if (stat(binary.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        access(binary.c_str(), X_OK) != 0) {
      std::string msg = path;
      msg += ": target binary ";
      msg += binary;
      msg += " is not an executable file: give the path of the program to trace";
      throw ConfigError(msg);
    }
  }
}

} // namespace

Runner add_check_config(CLI::App &app) {
  auto path = std::make_shared<std::string>();
  auto *cmd = app.add_subcommand(
      "check-config", "check a serve configuration file without attaching: prints the first "
                      "error with its line, or a summary; exit 0 when serve would accept it");
  cmd->add_option("FILE", *path, "configuration file, as kernspan serve --config takes")
      ->required();
  return [path](const Globals & /*g*/) {
    try {
      check_config(*path);
    } catch (const ConfigError &e) {
      print_error(e.what());
      return 1;
    } catch (const probe::ProbeError &e) {
      print_error(*path + ": " + e.what());
      return 1;
    }
    const ServeConfig c = load_config(*path);
    std::printf("%s: ok: %zu pid and %zu binary target(s), %zu uprobe, %zu span and %zu usdt "
                "probe spec(s), mode %s, sinks:%s%s%s%s\n",
                path->c_str(), c.pids.size(), c.binaries.size(), c.uprobes.size(), c.spans.size(),
                c.usdts.size(), c.mode.c_str(), c.prometheus.empty() ? "" : " prometheus",
                c.otlp.empty() ? "" : " otlp", c.zipkin.empty() ? "" : " zipkin",
                c.output.empty() ? "" : " output");
    return 0;
  };
}

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
