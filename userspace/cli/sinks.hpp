// SPDX-License-Identifier: Apache-2.0
// The sinks beyond the terminal and -o: their flags, and building them from
// those flags before tracing starts (so a bad port or URL fails early).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "collect/collector.hpp"
#include "core/stats.hpp"
#include "exporters/net_plugin.hpp"
#include "exporters/otlp.hpp"
#include "exporters/prometheus.hpp"
#include "exporters/sink.hpp"
#include "exporters/zipkin.hpp"

namespace kernspan::cli {

struct SinkOptions {
  std::string output;           // -o FILE, empty: none
  std::string format = "jsonl"; // of FILE: jsonl, otlp-json, chrome, influx
  std::string prometheus;       // [ADDR:]PORT, empty: no metrics endpoint
  std::string service;          // empty: the target's comm
  size_t max_span_names = 1000;
  size_t max_threads = 256;               // threads with their own /metrics series
  std::string otlp;                       // collector URL; empty: OTEL_* variables, else none
  std::string otlp_encoding = "protobuf"; // or json
  bool otlp_gzip = false;
  std::string zipkin; // Zipkin server URL; empty: none
  // How long the final flush of --otlp and --zipkin may take at exit;
  // what is not sent by then is dropped and counted (<sink>_shutdown).
  double export_timeout_s = 1.0;
  // false in --mode stats (no span records): the OTEL_* variables then set
  // up no OTLP sink (the flags are refused before this).
  bool spans = true;
};

// The OTLP traces URL: --otlp (with /v1/traces unless it has a path), else
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT
// with /v1/traces appended; "" when none is set.
std::string otlp_traces_url(const std::string &flag, std::string *source);

void add_sink_options(CLI::App &cmd, SinkOptions &o);

// What make_sinks built beyond the sinks it appended; destroy it before
// those sinks (the server renders from one of them).
class SinkSet {
public:
  // Refresh what /metrics shows of kernspan's own health (the collector's
  // counters, ring-buffer fill and BPF program stats, plus every sink's
  // drops) and of the targets' resource use (/proc). A no-op without
  // --prometheus. With read_threads(true) it also reads the targets'
  // per-thread totals (Collector::threads(), Plan::threads) for the thread
  // families.
  void update_health(collect::Collector &collector);
  // Read per-thread totals on each update_health (needs Plan::threads).
  void read_threads(bool on) { read_threads_ = on && prometheus_ != nullptr; }
  [[nodiscard]] bool reads_threads() const { return read_threads_; }
  // --mode stats: hand the kernel's aggregates to /metrics. A no-op
  // without --prometheus.
  void update_aggregates(const std::vector<core::SpanAggregate> &aggregates);
  // collector_drops plus every sink's drops, for the summary.
  [[nodiscard]] core::DropCounts all_drops(const core::DropCounts &collector_drops) const;

private:
  friend SinkSet make_sinks(const SinkOptions &o, const std::vector<pid_t> &pids,
                            std::vector<std::unique_ptr<exporters::Sink>> &sinks);
  const std::vector<std::unique_ptr<exporters::Sink>> *sinks_ = nullptr;
  exporters::PrometheusSink *prometheus_ = nullptr;
  std::vector<pid_t> targets_;
  bool read_threads_ = false;
  std::unique_ptr<exporters::MetricsEndpoint> server_;
};

// Checks what can be checked without side effects (file format, listen
// address, URLs and their hosts), so bad input fails before tracing
// begins; throws with a one-line what().
void validate_sink_options(const SinkOptions &o);

// close() every sink at once, each on its own thread, and wait for all:
// two dead collectors then cost one shutdown deadline, not two.
void close_all(std::vector<std::unique_ptr<exporters::Sink>> &sinks);

// Appends the sinks the flags ask for to `sinks` and starts their servers.
// The first PID names the service and the OTLP resource by default; /metrics
// shows the resource use of all of them.
// Throws (one-line what()) on a port in use, a malformed address or URL, or
// a file that cannot be written.
SinkSet make_sinks(const SinkOptions &o, const std::vector<pid_t> &pids,
                   std::vector<std::unique_ptr<exporters::Sink>> &sinks);

} // namespace kernspan::cli
