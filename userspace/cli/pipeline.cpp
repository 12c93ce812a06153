// SPDX-License-Identifier: Apache-2.0
#include "cli/pipeline.hpp"

#include "cli/follow.hpp"
#include "cli/pairs.hpp"
#include "collect/collector.hpp"
#include "core/stats.hpp"
#include "exporters/console.hpp"
#include "exporters/summary.hpp"
#include "probe/error.hpp"
#include "probe/proc_maps.hpp"
#include "probe/usdt.hpp"

#include <chrono>
#include <cstdio>
#include <memory>

namespace kernspan::cli {
namespace {

constexpr const char *kProvider = "kernspan";

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

// Adds the span probes of one process, and the functions and USDT pairs
// asked for, to the plan.
void plan_process(const PipelineOptions &o, collect::Plan &plan, pid_t pid, size_t *objects,
                  bool waiting, std::vector<std::pair<pid_t, std::string>> *searched_out) {
  std::vector<std::string> searched;
  const auto found = probe::find_process_usdt(pid, kProvider, &searched);
  if (searched_out != nullptr) {
    for (const auto &s : searched) {
      searched_out->emplace_back(pid, s);
    }
  }
  const size_t before = plan.usdt.size();
  const size_t uprobes_before = plan.uprobes.size();
  for (const auto &obj : found) {
    const auto attaches = span_probe_attaches(pid, obj.open_path, obj.probes);
    plan.usdt.insert(plan.usdt.end(), attaches.begin(), attaches.end());
    if (!attaches.empty()) {
      (*objects)++;
    }
  }
  *objects += plan_functions(o.functions, pid, plan).size();
  *objects += plan_pairs(o.spans, o.usdts, pid, plan);
  if (plan.usdt.size() == before && plan.uprobes.size() == uprobes_before && !waiting) {
    throw probe::ProbeError("PID " + std::to_string(pid) + " (" + probe::comm(pid) +
                            ") has no kernspan USDT probes; searched " +
                            std::to_string(searched.size()) +
                            " object(s): " + join_objects(searched) +
                            ". Mark spans with <kernspan/kernspan.h> and rebuild it");
  }
}

std::string describe(const PipelineOptions &o) {
  const auto &pids = o.pids;
  if (!o.binary.empty()) {
    return o.binary + " (" + std::to_string(pids.size()) + " running; new ones join)";
  }
  std::string s = pids.size() == 1 ? "PID " : "PIDs ";
  for (size_t i = 0; i < pids.size(); i++) {
    s += (i != 0 ? ", " : "") + std::to_string(pids[i]) + " (" + probe::comm(pids[i]) + ")";
  }
  if (o.follow_children) {
    s += " and its children";
  }
  return s;
}

} // namespace

collect::Plan make_span_plan(const PipelineOptions &o, const Globals &g, size_t *objects,
                             bool waiting, std::vector<std::pair<pid_t, std::string>> *searched) {
  collect::Plan plan;
  plan.tgids = o.pids;
  plan.duration_s = o.duration_s;
  plan.verbose = g.verbose;
  plan.ringbuf_bytes = o.ringbuf_mb << 20;
  plan.bpf_stats = !o.sinks.prometheus.empty(); // someone will read them
  plan.costs = !o.no_costs;
  plan.force_raw_tp = o.raw_tp;
  // Following, the probes go on the objects for every process (pid -1):
  // planned once, from the first process.
  std::vector<pid_t> planned = o.pids;
  if (following(o) && planned.size() > 1) {
    planned.resize(1);
  }
  for (const pid_t pid : planned) {
    plan_process(o, plan, pid, objects, waiting, searched);
  }
  if (!o.binary.empty() && planned.empty()) {
    plan_binary_file(o, plan, objects, waiting);
    if (searched != nullptr) {
      searched->emplace_back(0, o.binary);
    }
  }
  apply_following(o, plan);
  plan.follow.load_span_programs = true; // for objects mapped later
  plan.follow.load_function_programs = waiting;
  return plan;
}

int run_pipeline(const PipelineOptions &opts, const Globals &g) {
  const auto t0 = std::chrono::steady_clock::now();
  PipelineOptions o = opts;
  if (!o.binary.empty()) {
    resolve_binary(o);
  }
  validate_sink_options(o.sinks);
  for (const pid_t pid : o.pids) {
    require_process(pid);
  }
  collect::check_environment();
  if ((o.ringbuf_mb & (o.ringbuf_mb - 1)) != 0 || o.ringbuf_mb == 0) {
    throw probe::ProbeError("--ringbuf-mb must be a power of two (e.g. 8)");
  }
  size_t objects = 0;
  auto waiting = take_waiting_specs(o);
  std::vector<std::pair<pid_t, std::string>> searched;
  const collect::Plan plan = make_span_plan(o, g, &objects, !waiting.empty(), &searched);
  Follower follower(following(o), static_cast<uint32_t>(o.functions.max_probes),
                    o.functions.raw_entry, std::move(waiting), searched);

  std::vector<std::unique_ptr<exporters::Sink>> sinks;
  if (o.console) {
    sinks.push_back(std::make_unique<exporters::ConsoleSink>(stdout));
  }
  SinkSet sink_set = make_sinks(o.sinks, o.pids, sinks);

  auto collector = collect::Collector::start(plan);
  collect::SignalStopper stopper(*collector);
  const double ready_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "kernspan: attached %zu probes in %zu object(s) of %s in %.1f ms [%s]; Ctrl-C "
               "to stop\n",
               collector->attached(), objects, describe(o).c_str(), ready_ms,
               collector->variant().c_str());
  follower.announce();

  core::SpanStats stats;
  const auto why = collector->run(
      [&](core::Span &&s) {
        stats.add(s);
        for (auto &sink : sinks) {
          sink->on_span(s);
        }
      },
      [&] {
        follower.rescan(*collector);
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
  const auto counts = collector->usdt_counts();
  if (!counts.empty()) {
    std::string line = "usdt hits:";
    for (const auto &[probe_name, n] : counts) {
      line += " " + probe_name + "=" + std::to_string(n);
    }
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
  return 0;
}

} // namespace kernspan::cli
