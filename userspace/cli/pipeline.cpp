// SPDX-License-Identifier: Apache-2.0
#include "cli/pipeline.hpp"

#include "cli/follow.hpp"
#include "cli/pairs.hpp"
#include "collect/collector.hpp"
#include "core/modes.hpp"
#include "core/stats.hpp"
#include "exporters/console.hpp"
#include "exporters/summary.hpp"
#include "probe/error.hpp"
#include "probe/proc_maps.hpp"
#include "probe/usdt.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <spdlog/spdlog.h>

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

// The process's mappings, or none if it is gone (the attach will say so).
std::vector<probe::Mapping> maps_or_none(pid_t pid) {
  try {
    return probe::read_maps(pid);
  } catch (const probe::ProbeError &) {
    return {};
  }
}

// The read-only mappings of `object` in process `pid` (its .rodata and
// text, where string literals live), merged when adjacent.
void add_name_ranges(collect::Plan &plan, pid_t pid, const std::vector<probe::Mapping> &maps,
                     const std::string &object) {
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
  std::optional<std::vector<probe::Mapping>> maps; // read once, when first needed
  for (const auto &obj : found) {
    const auto attaches = span_probe_attaches(pid, obj.open_path, obj.probes);
    plan.usdt.insert(plan.usdt.end(), attaches.begin(), attaches.end());
    if (!attaches.empty()) {
      (*objects)++;
      if (!maps) {
        maps = maps_or_none(pid);
      }
      add_name_ranges(plan, pid, *maps, obj.object);
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

uint64_t count_of(const core::DropCounts &c, const std::string &place) {
  for (const auto &[name, n] : c.places) {
    if (name == place) {
      return n;
    }
  }
  return 0;
}

// What the modes left out, after the summary: not losses, so not in drops.
void print_mode_lines(const collect::Plan &plan, const PipelineOptions &o,
                      const core::SpanStats &stats, const core::DropCounts &counts,
                      uint64_t rate_limited) {
  const uint64_t sampled = count_of(counts, "sampled_out");
  const uint64_t filtered = count_of(counts, "filtered");
  if (plan.mode == collect::Mode::kSample) {
    const uint64_t seen = sampled + stats.total_spans() + filtered;
    std::printf("sampled out: %llu of %llu spans (--sample-rate %g, whole traces)\n",
                static_cast<unsigned long long>(sampled), static_cast<unsigned long long>(seen),
                plan.sample_rate);
  }
  if (plan.min_duration_ns != 0) {
    std::printf("filtered: %llu spans shorter than %s (--min-duration)\n",
                static_cast<unsigned long long>(filtered),
                exporters::format_duration(plan.min_duration_ns).c_str());
  }
  if (o.max_spans_per_second != 0) {
    std::printf("rate limited: %llu of %llu spans not sent to the sinks "
                "(--max-spans-per-second %llu)\n",
                static_cast<unsigned long long>(rate_limited),
                static_cast<unsigned long long>(stats.total_spans()),
                static_cast<unsigned long long>(o.max_spans_per_second));
  }
}

} // namespace

std::string check_max_string(const std::string &text) {
  const bool digits = !text.empty() && text.size() <= 5 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const unsigned long v = digits ? std::stoul(text) : 0;
  if (v < 1 || v > kMaxString) {
    return "'" + text + "' is not a number of bytes from 1 to " + std::to_string(kMaxString) +
           " (what is kept of each string read from the target; longer ones are cut and "
           "counted; the default is 256)";
  }
  return "";
}

CLI::Option *add_max_string_option(CLI::App &cmd, uint32_t *out) {
  return cmd
      .add_option("--max-string", *out,
                  "bytes kept of each string read from the target (span names, string "
                  "attributes), 1 to 4096; a longer one is cut there, shown ending in '...' "
                  "(U+2026) and counted (string_truncated)")
      ->check(CLI::Validator(check_max_string, "in [1 - 4096]"))
      ->capture_default_str();
}

void apply_mode_options(const PipelineOptions &o, collect::Plan &plan) {
  using collect::Mode;
  if (o.mode == "trace") {
    plan.mode = Mode::kTrace;
  } else if (o.mode == "sample") {
    plan.mode = Mode::kSample;
  } else if (o.mode == "stats") {
    plan.mode = Mode::kStats;
  } else {
    throw probe::ProbeError("unknown --mode '" + o.mode + "': use trace, sample or stats");
  }
  if (plan.mode == Mode::kSample) {
    if (o.sample_rate == 0) {
      throw probe::ProbeError("--mode sample needs --sample-rate R (0 < R <= 1), e.g. 0.1");
    }
    if (!(o.sample_rate > 0 && o.sample_rate <= 1)) {
      throw probe::ProbeError("--sample-rate must be in (0, 1], e.g. 0.1");
    }
    plan.sample_rate = o.sample_rate;
  } else if (o.sample_rate != 0) {
    throw probe::ProbeError("--sample-rate needs --mode sample");
  }
  if (!o.min_duration.empty()) {
    const auto ns = core::parse_duration_ns(o.min_duration);
    if (!ns) {
      throw probe::ProbeError("invalid --min-duration '" + o.min_duration +
                              "': use e.g. 500us, 2ms, 1.5s or plain nanoseconds");
    }
    plan.min_duration_ns = *ns;
  }
  plan.max_string = o.max_string;
  if (!o.span_timeout.empty()) {
    const auto ns = core::parse_duration_ns(o.span_timeout);
    if (!ns || *ns == 0) {
      throw probe::ProbeError("invalid --span-timeout '" + o.span_timeout +
                              "': use e.g. 30s, 5m or 500ms");
    }
    plan.span_timeout_ns = *ns;
  }
  if (plan.mode != Mode::kStats) {
    return;
  }
  // Stats mode sends no spans: sinks that need them are errors, not
  // silently empty.
  const auto refuse = [](const std::string &what) {
    throw probe::ProbeError(what + " needs span records, which --mode stats does not produce (use "
                                   "--mode trace or sample; --prometheus works with stats)");
  };
  if (!o.sinks.output.empty()) {
    refuse("-o");
  }
  if (!o.sinks.otlp.empty()) {
    refuse("--otlp");
  }
  if (!o.sinks.zipkin.empty()) {
    refuse("--zipkin");
  }
  if (o.max_spans_per_second != 0) {
    refuse("--max-spans-per-second");
  }
  for (const auto &p : plan.pairs) {
    if (p.name.index >= 0 && p.name_form != probe::NameForm::kAsIs) {
      const char *form = p.name_form == probe::NameForm::kSql ? "sql" : "norm";
      throw probe::ProbeError(std::string("--span name=") + form +
                              "(argN) names each span by its text at run time; --mode stats "
                              "keys spans by pair: use --mode trace or sample for per-" +
                              (p.name_form == probe::NameForm::kSql ? "query" : "text") +
                              " names, or a literal name= in stats mode");
    }
    if (p.name.index >= 0) {
      throw probe::ProbeError("--span name=argN names each span at run time; --mode stats keys "
                              "spans by pair: give a literal name= (or none) instead");
    }
  }
}

collect::Plan make_span_plan(const PipelineOptions &o, const Globals &g, size_t *objects,
                             bool waiting, std::vector<std::pair<pid_t, std::string>> *searched) {
  collect::Plan plan;
  plan.tgids = o.pids;
  plan.duration_s = o.duration_s;
  plan.verbose = g.verbose;
  plan.ringbuf_bytes = o.ringbuf_mb << 20;
  plan.bpf_stats = !o.sinks.prometheus.empty(); // someone will read them
  plan.bench_span_floor = o.bench_span_floor || o.bench_floor_clock || o.bench_floor_record;
  plan.bench_floor_work = o.bench_floor_record ? 2 : o.bench_floor_clock ? 1 : 0;
  plan.costs = !o.no_costs && !plan.bench_span_floor;
  plan.threads = plan.costs && !o.sinks.prometheus.empty(); // per-thread /metrics families
  plan.force_raw_tp = o.raw_tp;
  // Following, the probes go on the objects for every process (pid -1):
  // planned once, from the first process. (Built, not resize()d: GCC 12
  // at -O3 warns wrongly with -Warray-bounds on shrinking it.)
  const std::vector<pid_t> planned =
      following(o) && o.pids.size() > 1 ? std::vector<pid_t>{o.pids.front()} : o.pids;
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
  plan.follow.load_function_programs = waiting;
  apply_mode_options(o, plan);
  return plan;
}

int run_pipeline(const PipelineOptions &opts, const Globals &g) {
  const auto t0 = std::chrono::steady_clock::now();
  PipelineOptions o = opts;
  if (!o.binary.empty()) {
    resolve_binary(o);
  }
  validate_sink_options(o.sinks);
  {
    collect::Plan check; // mode flags fail before anything else is done
    apply_mode_options(o, check);
  }
  for (const pid_t pid : o.pids) {
    require_process(pid);
  }
  collect::check_environment();
  if ((o.ringbuf_mb & (o.ringbuf_mb - 1)) != 0 || o.ringbuf_mb == 0 ||
      o.ringbuf_mb > kMaxRingbufMb) {
    throw probe::ProbeError("--ringbuf-mb must be a power of two from 1 to " +
                            std::to_string(kMaxRingbufMb) + " (e.g. 8)");
  }
  size_t objects = 0;
  auto waiting = take_waiting_specs(o);
  std::vector<std::pair<pid_t, std::string>> searched;
  const collect::Plan plan = make_span_plan(o, g, &objects, !waiting.empty(), &searched);
  Follower follower(following(o), static_cast<uint32_t>(o.functions.max_probes),
                    o.functions.raw_entry, std::move(waiting), searched,
                    /*wait_forever=*/!o.binary.empty());

  const bool stats_mode = plan.mode == collect::Mode::kStats;
  std::vector<std::unique_ptr<exporters::Sink>> sinks;
  if (o.console && !stats_mode) {
    sinks.push_back(std::make_unique<exporters::ConsoleSink>(stdout));
  }
  SinkOptions sink_options = o.sinks;
  sink_options.spans = !stats_mode;
  SinkSet sink_set = make_sinks(sink_options, o.pids, sinks);
  sink_set.read_threads(plan.threads);

  spdlog::debug(
      "planned in {:.1f} ms",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
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
               collector->attached(), objects, describe(o).c_str(), ready_ms,
               collector->variant().c_str());
  follower.announce();

  core::SpanStats stats(o.sinks.max_span_names);
  SpanFanout fanout(stats, sinks, o.max_spans_per_second);
  const auto why = collector->run([&](core::Span &&s) { fanout.on_span(s); },
                                  [&] {
                                    follower.rescan(*collector);
                                    for (auto &sink : sinks) {
                                      sink->flush();
                                    }
                                    if (stats_mode) {
                                      sink_set.update_aggregates(collector->span_aggregates());
                                    }
                                    sink_set.update_health(*collector);
                                  });
  close_all(sinks);
  if (!follower.failure().empty()) {
    print_error(follower.failure());
    return 1;
  }
  std::fprintf(stderr, "kernspan: stopped (%s) after %llu records\n", collect::to_string(why),
               static_cast<unsigned long long>(collector->records()));
  if (stats_mode) {
    const auto aggregates = collector->span_aggregates(); // all of them: detached
    for (const auto &a : aggregates) {
      stats.add(a);
    }
    sink_set.update_aggregates(aggregates);
  }
  sink_set.update_health(*collector);
  exporters::print_summary(stdout, stats, sink_set.all_drops(collector->drops()), {});
  print_mode_lines(plan, o, stats, collector->mode_counts(), fanout.rate_limited());
  const auto counts = collector->usdt_counts();
  if (!counts.empty()) {
    std::string line = "usdt hits:";
    for (const auto &[probe_name, n] : counts) {
      line += " " + probe_name + "=" + std::to_string(n);
    }
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
  // A file that could not be written (its first failure was said on
  // stderr, its lost spans are in the summary's drops): the run failed.
  for (const auto &sink : sinks) {
    if (sink->write_failed()) {
      return 1;
    }
  }
  return 0;
}

} // namespace kernspan::cli
