// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics from spans: a sink that aggregates on the consumer
// thread and renders the text exposition format 0.0.4 or OpenMetrics 1.0 for
// a scrape on another thread. The HTTP server is metrics_server.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/health.hpp"
#include "core/span.hpp"
#include "core/stats.hpp"
#include "core/threads.hpp"
#include "exporters/sink.hpp"

namespace kernspan::exporters {

enum class ExpositionFormat { kText004, kOpenMetrics100 };

// Content-Type header value for a format.
const char *content_type(ExpositionFormat f);
// The format to answer an HTTP Accept header with: OpenMetrics when the
// client lists application/openmetrics-text with a q-value above 0 and not
// below any text/plain or */* it also lists; otherwise text 0.0.4.
ExpositionFormat negotiate_format(std::string_view accept);

// kernspan's view of its own health, as of the collector's last tick.
struct Health {
  uint64_t records_received = 0;
  // Every place that dropped: the collector's (ring buffer, span stack, …)
  // and the other sinks' (exporter queues, rejected batches).
  core::DropCounts drops;
  core::RingbufFill ringbuf;
  bool bpf_stats_enabled = false;
  std::vector<core::BpfProgramStats> programs;
  std::vector<core::ProcessUsage> processes; // the traced processes
};

struct PrometheusOptions {
  std::string service;          // service_name label on span series
  size_t max_span_names = 1000; // distinct span_name values before overflow
  size_t max_threads = 256;     // threads with their own series before overflow
  // How long a thread that exited (absent from a reading) keeps its series.
  uint64_t thread_retention_ns = 300'000'000'000;
};

// Families (names end in their base unit; counters in _total):
//   kernspan_span_duration_seconds          histogram {service_name, span_name}
//       buckets: kBucketBoundsNs; OpenMetrics adds exemplars with the
//       trace_id and span_id of the latest span that fell in each bucket
//   kernspan_span_cpu_seconds_total         counter   {service_name, span_name}
//   kernspan_span_offcpu_seconds_total      counter   {…, reason=runq|io|sleep}
//   kernspan_span_io_bytes_total            counter   {…, direction=read|write}
//   kernspan_span_network_bytes_total       counter   {…, direction=sent|received}
//       (cost families only count spans with has_costs, and list a span
//       name only once one of its spans had costs)
//   kernspan_spans_total                    counter   {service_name}
//   kernspan_spans_incomplete_total         counter   {service_name}
//   kernspan_records_received_total         counter
//   kernspan_dropped_total                  counter   {place}
//   kernspan_span_name_overflow_total       counter   spans folded into the
//       span_name="__overflow__" series once max_span_names names were seen
//   kernspan_span_names                     gauge     distinct names tracked
//   kernspan_ringbuf_size_bytes             gauge     data area of the span ring buffer
//   kernspan_ringbuf_used_bytes             gauge     unconsumed bytes at the last tick
//   kernspan_ringbuf_used_max_bytes         gauge     most seen just before a drain
//       (ring-buffer gauges only when the fill is known)
//   kernspan_bpf_stats_enabled              gauge     1 while the kernel times BPF programs
//   kernspan_bpf_program_run_seconds_total  counter   {program}  kernel-measured run time
//   kernspan_bpf_program_runs_total         counter   {program}
//   kernspan_process_cpu_seconds_total      counter   {service_name, pid, mode=user|system}
//   kernspan_process_runqueue_seconds_total counter   {service_name, pid}  off-CPU, runnable
//   kernspan_process_blkio_seconds_total    counter   {service_name, pid}  off-CPU, block I/O
//       (needs delay accounting: sysctl kernel.task_delayacct=1)
//   kernspan_process_io_bytes_total         counter   {service_name, pid, direction=read|write}
// Per thread, from kernspan's own BPF totals since attach (update_threads;
// only once it has been called, i.e. with thread costs on):
//   kernspan_thread_cpu_seconds_total       counter   {service_name, pid, tid, thread}
//   kernspan_thread_offcpu_seconds_total    counter   {…, reason=runq|io|sleep}
//   kernspan_thread_syscalls_total          counter   {…}
//   kernspan_thread_io_bytes_total          counter   {…, direction=read|write}  read()/write()
//   bytes kernspan_thread_network_bytes_total     counter   {…, direction=sent|received}
//       (threads past max_threads share the series tid="__overflow__",
//       thread="__overflow__" of their pid; a thread that exited keeps its
//       last values for thread_retention_ns, then its series go; an
//       overflow thread is forgotten at once, its share stays in the sum)
//   kernspan_thread_overflow_total          counter   threads folded into __overflow__
//   kernspan_threads                        gauge     threads with their own series
//   kernspan_process_offcpu_seconds_total   counter   {service_name, pid, reason=runq|io|sleep}
//   kernspan_process_syscalls_total         counter   {service_name, pid}
//   kernspan_process_network_bytes_total    counter   {service_name, pid, direction=sent|received}
//       (sums over every thread read since attach, dropped ones included;
//       processes past max_threads distinct pids share pid="__overflow__")
//   kernspan_process_overflow_total         counter   processes folded into __overflow__
// Label values are UTF-8 (invalid bytes become U+FFFD) with \\, \" and \n
// escaped. Series are ordered by span name, so output is deterministic.
class PrometheusSink : public Sink {
public:
  // Upper bounds of the duration buckets in ns (+Inf is implicit).
  static constexpr std::array<uint64_t, 19> kBucketBoundsNs = {
      10'000,        25'000,        50'000,        100'000,       250'000,
      500'000,       1'000'000,     2'500'000,     5'000'000,     10'000'000,
      25'000'000,    50'000'000,    100'000'000,   250'000'000,   500'000'000,
      1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
  static constexpr std::string_view kOverflowName = "__overflow__";

  explicit PrometheusSink(PrometheusOptions options);

  void on_span(const core::Span &span) override;
  // Replace the health snapshot (called on the collector's tick and at exit).
  void set_health(const Health &health);
  // --mode stats: replace the span series with the kernel's aggregates
  // (cumulative since attach). Their duration histograms use the log2
  // slots as buckets (le = 2^(i+1) - 1 ns, slots 0..kLog2BucketsShown-1,
  // then +Inf), and have no exemplars.
  void set_aggregates(const std::vector<core::SpanAggregate> &aggregates);
  static constexpr size_t kLog2BucketsShown = 40; // up to 2^40 ns, ~18 min
  // Merge a reading of the targets' threads (Collector::threads(): totals
  // since attach) taken at now_ns on a monotonic clock. Counters only grow:
  // what a thread adds between readings is added to its pid's sums, a tid
  // whose totals went down is a new thread (tid reuse) counted from zero.
  void update_threads(const std::vector<core::ThreadCosts> &threads, uint64_t now_ns);

  // The whole exposition, safe to call from any thread.
  [[nodiscard]] std::string render(ExpositionFormat format) const;

private:
  static constexpr size_t kBuckets = kBucketBoundsNs.size() + 1; // with +Inf
  struct Exemplar {
    core::TraceId trace_id;
    uint64_t span_id = 0;
    uint64_t value_ns = 0;
    uint64_t end_unix_nano = 0;
  };
  struct Series {
    std::array<uint64_t, kBuckets> buckets{}; // not cumulative
    std::array<Exemplar, kBuckets> exemplars{};
    uint64_t count = 0;
    uint64_t sum_ns = 0;
    uint64_t errors = 0; // spans reported incomplete (the sinks' error status)
    bool has_costs = false;
    core::Costs costs;                  // field-wise sums over spans with costs
    std::vector<core::Log2Bucket> log2; // set_aggregates: cumulative, instead of buckets
  };

  struct ThreadSeries {
    std::string comm;
    core::Costs costs; // the last reading
    uint64_t last_seen_ns = 0;
    uint64_t last_reading = 0; // readings_ when last seen
    bool overflow = false;     // counted in its pid's __overflow__ series
  };

  void render_locked(std::string &out, ExpositionFormat format) const;
  void render_threads(std::string &out, ExpositionFormat format, const std::string &svc) const;

  const PrometheusOptions options_;
  const std::string service_label_; // escaped once
  mutable std::mutex mu_;
  std::map<std::string, Series> series_; // key: sanitized span name
  uint64_t spans_ = 0;
  uint64_t incomplete_ = 0;
  uint64_t overflow_ = 0;
  Health health_;
  bool threads_on_ = false;                                       // update_threads was called
  std::map<std::pair<uint32_t, uint32_t>, ThreadSeries> threads_; // (tgid, tid)
  size_t threads_tracked_ = 0;                                    // in threads_, not overflow
  uint64_t threads_overflowed_ = 0;
  uint64_t readings_ = 0; // update_threads calls
  // Process sums are keyed by tgid, or by kOverflowPid for processes past
  // max_threads distinct pids (pid 0, the idle task, is never traced).
  static constexpr uint32_t kOverflowPid = 0;
  uint32_t process_key(uint32_t tgid, bool fresh_thread);
  std::map<uint32_t, core::Costs> overflow_costs_; // tgid -> sums of overflow threads
  std::map<uint32_t, core::Costs> process_costs_;  // tgid -> sums of every thread
  uint64_t processes_overflowed_ = 0;
};

// Label value escaping for the exposition formats: UTF-8 repaired, then
// backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view v);
// Shortest decimal that reads back as the same double ("0.25", "1e-05");
// OpenMetrics style adds ".0" to integral values ("1.0") as its canonical
// form for le bounds.
std::string format_double(double v, bool openmetrics = false);

} // namespace kernspan::exporters
