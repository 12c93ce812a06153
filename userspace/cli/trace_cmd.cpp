// SPDX-License-Identifier: Apache-2.0
// kernspan trace: spans of a running process, live, to files, and a summary.
#include "cli/commands.hpp"
#include "cli/follow.hpp"
#include "cli/pipeline.hpp"

#include <cmath>
#include <memory>
#include <string>

namespace kernspan::cli {
namespace {

// The longest -d: a year, in seconds. Enough for any trace; far from the
// double's range, whose bound would print as a 309-digit number.
constexpr double kMaxDurationS = 365.0 * 24 * 3600;

// -d SECONDS: a finite number in (0, a year]. nan, inf and negative values
// would make a trace that never stops.
std::string check_duration(const std::string &text) {
  double v = 0;
  size_t used = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception &) {
    used = 0;
  }
  if (used != text.size() || used == 0 || !std::isfinite(v) || v <= 0 || v > kMaxDurationS) {
    return "'" + text +
           "' is not a number of seconds above 0 and at most 31536000 (a year); "
           "e.g. 10 or 0.5";
  }
  return "";
}

// --ringbuf-mb MiB: the ring buffer is locked kernel memory, allocated per
// run; libbpf needs a power of two pages, so the size is a power of two.
std::string check_ringbuf_mb(const std::string &text) {
  const bool digits = !text.empty() && text.size() <= 5 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const unsigned long v = digits ? std::stoul(text) : 0;
  if (v < 1 || v > kMaxRingbufMb || (v & (v - 1)) != 0) {
    return "'" + text + "' is not a power of two from 1 to " + std::to_string(kMaxRingbufMb) +
           " (MiB of locked kernel memory, allocated at start: a larger buffer takes longer to "
           "set up; the default is 4)";
  }
  return "";
}

} // namespace

Runner add_trace(CLI::App &app) {
  auto opts = std::make_shared<PipelineOptions>();
  auto pid = std::make_shared<pid_t>(0);
  auto quiet = std::make_shared<bool>(false);
  auto *cmd = app.add_subcommand("trace", "trace the spans of a running process");
  auto *pid_opt = cmd->add_option("-p,--pid", *pid, "process to trace");
  auto *binary_opt = add_follow_options(*cmd, *opts); // --binary, --follow-children
  pid_opt->excludes(binary_opt);
  cmd->callback([pid_opt, binary_opt] {
    if (pid_opt->count() == 0 && binary_opt->count() == 0) {
      throw CLI::RequiredError("--pid or --binary");
    }
  });
  cmd->add_option("-d,--duration", opts->duration_s,
                  "stop after SECONDS (default: until Ctrl-C "
                  "or the process exits)")
      ->check(CLI::Validator(check_duration, "in (0 - 31536000]"));
  cmd->add_flag("-q,--quiet", *quiet, "do not print each span, only the summary");
  cmd->add_option("--ringbuf-mb", opts->ringbuf_mb,
                  "ring buffer size in MiB (a power of two, 1 to 1024)")
      ->check(CLI::Validator(check_ringbuf_mb, "power of two in [1 - 1024]"))
      ->capture_default_str();
  add_sink_options(*cmd, opts->sinks);
  add_max_string_option(*cmd, &opts->max_string);
  cmd->add_flag("--no-costs", opts->no_costs,
                "do not measure what each span cost (CPU, waits, syscalls, bytes): saves the "
                "scheduler and syscall tracepoints' overhead on the target's threads");
  // Hidden: empty programs on kernspan's own span probes, attached as the
  // real ones are (bench/run_spine.sh: the floor). Implies --no-costs.
  cmd->add_flag("--bench-floor", opts->bench_span_floor, "")->group("");
  // Hidden: the same, each program also reading the clock once as a span's
  // begin and end do (bench/run_spine.sh: what two clock reads cost).
  cmd->add_flag("--bench-floor-clock", opts->bench_floor_clock, "")->group("");
  // Hidden: and every second hit on a CPU emits a minimal record (its
  // start and end): a lower bound for a tracer that sends spans out.
  cmd->add_flag("--bench-floor-record", opts->bench_floor_record, "")->group("");
  // Hidden: load the raw_tp variants even where tp_btf works (tests).
  cmd->add_flag("--raw-tp", opts->raw_tp, "")->group("");
  cmd->add_option("--uprobe", opts->functions.specs,
                  "span from every call of the functions matching PATTERN in OBJECT, a path or a "
                  "library name in the process's maps (e.g. 'libc:malloc', 'app:ns::Cache::*'); "
                  "args=N records the first N integer arguments (arg0..) and the return value "
                  "(ret). Repeatable. Returns are caught with uretprobes, which rewrite the "
                  "function's return address on the stack while it runs (stack walkers see a "
                  "kernel trampoline); where the program has USDT probes for the same work, "
                  "prefer them. Calls left by longjmp or an exception are reported incomplete "
                  "when an outer traced function returns, and counted (fn_return_lost)")
      ->type_name("'OBJECT:PATTERN[,args=N]'");
  cmd->add_option("--span", opts->spans,
                  "spans from two USDT probes the program already has, paired per thread "
                  "(nesting with every other span), or across threads by an argument's value "
                  "with id=argK. name=argN reads the begin probe's string argument N "
                  "(end.argN: the end probe's), any other name= is literal (default: the begin "
                  "probe's name); attr.KEY=argM records an integer, attr.KEY=str(argM) a string "
                  "(up to --max-string bytes); arguments count from 0. Repeatable")
      ->type_name("'PROVIDER:BEGIN..PROVIDER:END[,name=..][,attr.KEY=..][,id=argK]'");
  cmd->add_option("--usdt", opts->usdts, "count the hits of a USDT probe (shown in the summary)")
      ->type_name("'PROVIDER:PROBE'");
  cmd->add_option("--max-probes", opts->functions.max_probes,
                  "refuse --uprobe patterns matching more functions than this in all")
      ->capture_default_str();
  cmd->add_flag("--raw-entry", opts->functions.raw_entry,
                "probe each function's first instruction even when it is an endbr64 (slower: "
                "the kernel single-steps it; for benchmarks)");
  cmd->add_option("--mode", opts->mode,
                  "trace: every span (default); sample: keep whole traces at --sample-rate, "
                  "decided in the kernel where each trace begins; stats: no span records, "
                  "per-name latency histograms and cost sums kept in the kernel (for the "
                  "summary and --prometheus; -o, --otlp and --zipkin need records)")
      ->check(CLI::IsMember({"trace", "sample", "stats"}))
      ->capture_default_str();
  cmd->add_option("--sample-rate", opts->sample_rate,
                  "with --mode sample: fraction of traces kept, 0 < R <= 1. A trace joining a "
                  "remote parent is dropped when its traceparent says not sampled, else kept "
                  "by the same test on its trace id")
      ->type_name("R");
  cmd->add_option("--span-timeout", opts->span_timeout,
                  "report a span still open after D (e.g. 30s, 5m) as incomplete, once, and "
                  "count it (span_timed_out): an end that never comes (an exception or longjmp "
                  "out of a marked region, a thread blocked for good) then still shows; if the "
                  "end does come later it sends nothing more. Checked once a second")
      ->type_name("D");
  cmd->add_option("--min-duration", opts->min_duration,
                  "complete spans shorter than D are not sent (filtered in the kernel, counted); "
                  "D as 500us, 2ms, 1.5s or plain nanoseconds")
      ->type_name("D");
  cmd->add_option("--max-spans-per-second", opts->max_spans_per_second,
                  "send at most N spans a second (of span end time, bursts up to N) to the "
                  "console and the sinks; the rest are counted, and still in the summary")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}))
      ->type_name("N");
  return [opts, pid, quiet](const Globals &g) {
    if (opts->binary.empty()) {
      opts->pids = {*pid};
    }
    opts->console = !*quiet;
    return run_pipeline(*opts, g);
  };
}

} // namespace kernspan::cli
