// SPDX-License-Identifier: Apache-2.0
// What `trace` and `serve` share: a plan for the span probes of some
// processes, and one run of collector -> sinks -> summary.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "cli/commands.hpp"
#include "core/modes.hpp"
#include "core/span.hpp"
#include "core/stats.hpp"
#include "exporters/sink.hpp"

#include "cli/functions.hpp"
#include "cli/sinks.hpp"
#include "collect/plan.hpp"
#include <memory>
#include <optional>

namespace kernspan::cli {

// --ringbuf-mb and ringbuf_mb: at most 1 GiB of locked kernel memory (4 GiB
// took seconds to allocate and set up, for no gain at any span rate seen).
constexpr uint32_t kMaxRingbufMb = 1024;
// --max-string: bytes kept of each string read from a target (KS_MAX_STRING).
constexpr uint32_t kMaxString = 4096;

// CLI11 check of --max-string: "" when TEXT is a number from 1 to
// kMaxString, else why not (one line).
std::string check_max_string(const std::string &text);

// Adds --max-string to `cmd`, storing into *out.
CLI::Option *add_max_string_option(CLI::App &cmd, uint32_t *out);

struct PipelineOptions {
  std::vector<pid_t> pids; // live processes with kernspan probes
  double duration_s = 0;
  bool console = true; // print each span as it ends
  uint32_t ringbuf_mb = 4;
  SinkOptions sinks;
  bool no_costs = false;           // --no-costs
  bool bench_span_floor = false;   // hidden --bench-floor (Plan::bench_span_floor)
  bool bench_floor_clock = false;  // hidden --bench-floor-clock (Plan::bench_floor_work)
  bool bench_floor_record = false; // hidden --bench-floor-record (Plan::bench_floor_work)
  bool raw_tp = false;             // --raw-tp (tests of the fallback variant)
  FunctionOptions functions;       // --uprobe
  std::vector<std::string> spans;  // --span
  std::vector<std::string> usdts;  // --usdt
  // Modes: --mode, --sample-rate, --min-duration,
  // --max-spans-per-second (0: no limit).
  std::string mode = "trace";
  double sample_rate = 0; // 0: not given
  std::string min_duration;
  std::string span_timeout; // --span-timeout: "" none
  uint64_t max_spans_per_second = 0;
  uint32_t max_string = 256;    // --max-string (Plan::max_string)
  bool follow_children = false; // --follow-children
  std::string binary;           // --binary: every process running it (pids: those at start)
};

// Checks the mode flags against each other and against the sinks; throws
// probe::ProbeError with a one-line message. Fills plan's mode fields.
void apply_mode_options(const PipelineOptions &o, collect::Plan &plan);

// Plan the span probes of every PID (their executables and mapped shared
// objects) plus the requested functions and USDT pairs; throws ProbeError
// naming what was searched when a PID has nothing to attach.
// *objects counts the objects with probes.
// `waiting`: --uprobe specs set aside for a library not loaded yet (then a
// process without probes of its own is no error). `searched` receives the
// objects looked at, by process.
collect::Plan make_span_plan(const PipelineOptions &o, const Globals &g, size_t *objects,
                             bool waiting = false,
                             std::vector<std::pair<pid_t, std::string>> *searched = nullptr);

// What happens to each span the collector hands over: counted in the
// summary, then (unless --max-spans-per-second holds it back) given to
// every sink. bench/replay.cpp drives it too.
class SpanFanout {
public:
  // --max-spans-per-second: the summary counts every span, the sinks get
  // at most N a second (of span end time); 0: no limit.
  SpanFanout(core::SpanStats &stats, std::vector<std::unique_ptr<exporters::Sink>> &sinks,
             uint64_t max_spans_per_second)
      : stats_(stats), sinks_(sinks) {
    if (max_spans_per_second != 0) {
      limit_.emplace(max_spans_per_second);
    }
  }
  void on_span(const core::Span &s) {
    stats_.add(s);
    if (limit_ && !limit_->take(s.end_unix_nano)) {
      rate_limited_++;
      return;
    }
    for (auto &sink : sinks_) {
      sink->on_span(s);
    }
  }
  // Spans the limit kept from the sinks.
  [[nodiscard]] uint64_t rate_limited() const { return rate_limited_; }

private:
  core::SpanStats &stats_;
  std::vector<std::unique_ptr<exporters::Sink>> &sinks_;
  std::optional<core::TokenBucket> limit_;
  uint64_t rate_limited_ = 0;
};

// Builds the sinks, starts the collector, runs until a signal, the
// duration or the exit of every target, closes the sinks and prints the
// summary. Returns the exit status.
int run_pipeline(const PipelineOptions &o, const Globals &g);

} // namespace kernspan::cli
