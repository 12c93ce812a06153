// SPDX-License-Identifier: Apache-2.0
// kernspan trace: spans of a running process, live, to files, and a summary.
#include "cli/commands.hpp"
#include "cli/sinks.hpp"
#include "collect/collector.hpp"
#include "collect/plan.hpp"
#include "core/stats.hpp"
#include "exporters/console.hpp"
#include "exporters/summary.hpp"
#include "probe/error.hpp"
#include "probe/proc_maps.hpp"
#include "probe/usdt.hpp"

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <spdlog/spdlog.h>

namespace kernspan::cli {
namespace {

struct TraceOptions {
  pid_t pid = 0;
  double duration_s = 0;
  bool quiet = false;
  uint32_t ringbuf_mb = 4;
  SinkOptions sinks;
};

constexpr const char *kProvider = "kernspan";
const std::set<std::string> kSpanProbes = {"span_begin", "span_begin_remote", "span_end"};

std::string join_objects(const std::vector<std::string> &v) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < 6; i++) {
    s += (i != 0 ? ", " : "") + v[i];
  }
  if (v.size() > 6) {
    s += ", and " + std::to_string(v.size() - 6) + " more";
  }
  return s;
}

// The plan: which probes to attach where, for this PID.
collect::Plan make_plan(const TraceOptions &o, const Globals &g, size_t *objects) {
  std::vector<std::string> searched;
  const auto found = probe::find_process_usdt(o.pid, kProvider, &searched);
  collect::Plan plan;
  plan.tgids = {o.pid};
  plan.duration_s = o.duration_s;
  plan.verbose = g.verbose;
  plan.ringbuf_bytes = o.ringbuf_mb << 20;
  plan.bpf_stats = !o.sinks.prometheus.empty(); // someone will read them
  for (const auto &obj : found) {
    // probe name -> do all its sites pass arguments in the pinned registers?
    std::map<std::string, bool> names;
    for (const auto &p : obj.probes) {
      if (kSpanProbes.count(p.name) == 0) {
        continue;
      }
      const bool regs = p.args == (p.name == "span_begin_remote" ? "8@%rdi 8@%rsi" : "8@%rdi");
      auto [it, fresh] = names.emplace(p.name, regs);
      it->second = it->second && regs;
    }
    for (const auto &[n, regs] : names) {
      plan.usdt.push_back({o.pid, obj.open_path, kProvider, n, regs});
    }
    if (!names.empty()) {
      (*objects)++;
    }
  }
  if (plan.usdt.empty()) {
    throw probe::ProbeError("PID " + std::to_string(o.pid) + " (" + probe::comm(o.pid) +
                            ") has no kernspan USDT probes; searched " +
                            std::to_string(searched.size()) +
                            " object(s): " + join_objects(searched) +
                            ". Mark spans with <kernspan/kernspan.h> and rebuild it");
  }
  return plan;
}

int run_trace(const TraceOptions &o, const Globals &g) {
  const auto t0 = std::chrono::steady_clock::now();
  validate_sink_options(o.sinks);
  require_process(o.pid);
  collect::check_environment();
  if ((o.ringbuf_mb & (o.ringbuf_mb - 1)) != 0 || o.ringbuf_mb == 0) {
    throw probe::ProbeError("--ringbuf-mb must be a power of two (e.g. 8)");
  }
  size_t objects = 0;
  const collect::Plan plan = make_plan(o, g, &objects);

  std::vector<std::unique_ptr<exporters::Sink>> sinks;
  if (!o.quiet) {
    sinks.push_back(std::make_unique<exporters::ConsoleSink>(stdout));
  }
  SinkSet sink_set = make_sinks(o.sinks, o.pid, sinks);

  auto collector = collect::Collector::start(plan);
  collect::SignalStopper stopper(*collector);
  const double ready_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "kernspan: attached %zu probes in %zu object(s) of PID %d (%s) in %.1f ms "
               "[%s]; Ctrl-C to stop\n",
               collector->attached(), objects, o.pid, probe::comm(o.pid).c_str(), ready_ms,
               collector->variant().c_str());

  core::SpanStats stats;
  const auto why = collector->run(
      [&](core::Span &&s) {
        stats.add(s);
        for (auto &sink : sinks) {
          sink->on_span(s);
        }
      },
      [&] {
        for (auto &sink : sinks) {
          sink->flush();
        }
        sink_set.update_health(*collector);
      });
  close_all(sinks);
  std::fprintf(stderr, "kernspan: stopped (%s) after %llu records\n", collect::to_string(why),
               static_cast<unsigned long long>(collector->records()));
  sink_set.update_health(*collector);
  exporters::print_summary(stdout, stats, sink_set.all_drops(collector->drops()), {});
  std::fflush(stdout);
  return 0;
}

} // namespace

Runner add_trace(CLI::App &app) {
  auto opts = std::make_shared<TraceOptions>();
  auto *cmd = app.add_subcommand("trace", "trace the spans of a running process");
  cmd->add_option("-p,--pid", opts->pid, "process to trace")->required();
  cmd->add_option("-d,--duration", opts->duration_s,
                  "stop after SECONDS (default: until Ctrl-C "
                  "or the process exits)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("-q,--quiet", opts->quiet, "do not print each span, only the summary");
  cmd->add_option("--ringbuf-mb", opts->ringbuf_mb, "ring buffer size in MiB (power of two)")
      ->capture_default_str();
  add_sink_options(*cmd, opts->sinks);
  return [opts](const Globals &g) { return run_trace(*opts, g); };
}

} // namespace kernspan::cli
