// SPDX-License-Identifier: Apache-2.0
#include "cli/pipeline.hpp"

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
#include <map>
#include <memory>
#include <set>

namespace kernspan::cli {
namespace {

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

// The read-only mappings of `object` in process `pid` (its .rodata and
// text, where string literals live), merged when adjacent.
void add_name_ranges(collect::Plan &plan, pid_t pid, const std::string &object) {
  std::vector<probe::Mapping> maps;
  try {
    maps = probe::read_maps(pid);
  } catch (const probe::ProbeError &) {
    return; // gone: the attach will say so
  }
  for (const auto &m : maps) {
    if (m.path != object || m.perms.size() < 2 || m.perms[1] == 'w') {
      continue;
    }
    if (!plan.name_ranges.empty() && plan.name_ranges.back().pid == pid &&
        plan.name_ranges.back().hi == m.start) {
      plan.name_ranges.back().hi = m.end;
    } else {
      plan.name_ranges.push_back({pid, m.start, m.end});
    }
  }
}

// Adds the span probes of one process, and the functions and USDT pairs
// asked for, to the plan.
void plan_process(const PipelineOptions &o, collect::Plan &plan, pid_t pid, size_t *objects) {
  std::vector<std::string> searched;
  const auto found = probe::find_process_usdt(pid, kProvider, &searched);
  const size_t before = plan.usdt.size();
  const size_t uprobes_before = plan.uprobes.size();
  for (const auto &obj : found) {
    // probe name -> do all its sites pass arguments in the pinned registers?
    std::map<std::string, bool> names;
    std::map<std::string, collect::UsdtAttach> sites;
    for (const auto &p : obj.probes) {
      if (kSpanProbes.count(p.name) == 0) {
        continue;
      }
      const bool regs = p.args == (p.name == "span_begin_remote" ? "8@%rdi 8@%rsi" : "8@%rdi") &&
                        p.site_offset != 0 && (p.semaphore == 0 || p.semaphore_offset != 0);
      auto [it, fresh] = names.emplace(p.name, regs);
      it->second = it->second && regs;
      auto &a = sites[p.name];
      a.site_offsets.push_back(p.site_offset);
      a.semaphore_offsets.push_back(p.semaphore_offset);
    }
    for (const auto &[n, regs] : names) {
      collect::UsdtAttach a{pid, obj.open_path, kProvider, n, regs, "", 0, {}, {}};
      if (regs) {
        a.site_offsets = std::move(sites[n].site_offsets);
        a.semaphore_offsets = std::move(sites[n].semaphore_offsets);
      }
      plan.usdt.push_back(std::move(a));
    }
    if (!names.empty()) {
      (*objects)++;
      add_name_ranges(plan, pid, obj.object);
    }
  }
  *objects += plan_functions(o.functions, pid, plan).size();
  *objects += plan_pairs(o.spans, o.usdts, pid, plan);
  if (plan.usdt.size() == before && plan.uprobes.size() == uprobes_before) {
    throw probe::ProbeError("PID " + std::to_string(pid) + " (" + probe::comm(pid) +
                            ") has no kernspan USDT probes; searched " +
                            std::to_string(searched.size()) +
                            " object(s): " + join_objects(searched) +
                            ". Mark spans with <kernspan/kernspan.h> and rebuild it");
  }
}

std::string describe(const std::vector<pid_t> &pids) {
  std::string s = pids.size() == 1 ? "PID " : "PIDs ";
  for (size_t i = 0; i < pids.size(); i++) {
    s += (i != 0 ? ", " : "") + std::to_string(pids[i]) + " (" + probe::comm(pids[i]) + ")";
  }
  return s;
}

} // namespace

collect::Plan make_span_plan(const PipelineOptions &o, const Globals &g, size_t *objects) {
  collect::Plan plan;
  plan.tgids = o.pids;
  plan.duration_s = o.duration_s;
  plan.verbose = g.verbose;
  plan.ringbuf_bytes = o.ringbuf_mb << 20;
  plan.bpf_stats = !o.sinks.prometheus.empty(); // someone will read them
  plan.costs = !o.no_costs;
  plan.threads = plan.costs && !o.sinks.prometheus.empty(); // per-thread /metrics families
  plan.force_raw_tp = o.raw_tp;
  for (const pid_t pid : o.pids) {
    plan_process(o, plan, pid, objects);
  }
  return plan;
}

int run_pipeline(const PipelineOptions &o, const Globals &g) {
  const auto t0 = std::chrono::steady_clock::now();
  validate_sink_options(o.sinks);
  for (const pid_t pid : o.pids) {
    require_process(pid);
  }
  collect::check_environment();
  if ((o.ringbuf_mb & (o.ringbuf_mb - 1)) != 0 || o.ringbuf_mb == 0) {
    throw probe::ProbeError("--ringbuf-mb must be a power of two (e.g. 8)");
  }
  size_t objects = 0;
  const collect::Plan plan = make_span_plan(o, g, &objects);

  std::vector<std::unique_ptr<exporters::Sink>> sinks;
  if (o.console) {
    sinks.push_back(std::make_unique<exporters::ConsoleSink>(stdout));
  }
  SinkSet sink_set = make_sinks(o.sinks, o.pids, sinks);
  sink_set.read_threads(plan.threads);

  auto collector = collect::Collector::start(plan);
  if (sink_set.reads_threads()) {
    // Attach the thread iterators now, while the targets are known to live,
    // so that a failure is an error before tracing rather than mid-run.
    (void)collector->threads();
  }
  collect::SignalStopper stopper(*collector);
  const double ready_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "kernspan: attached %zu probes in %zu object(s) of %s in %.1f ms [%s]; Ctrl-C "
               "to stop\n",
               collector->attached(), objects, describe(o.pids).c_str(), ready_ms,
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
