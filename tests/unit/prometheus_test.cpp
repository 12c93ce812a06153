// SPDX-License-Identifier: Apache-2.0
#include "exporters/prometheus.hpp"

#include <cstdio>
#include <gtest/gtest.h>
#include <unistd.h>

#include "test_spans.hpp"

namespace kernspan::exporters {
namespace {

using testing::child_span;
using testing::root_span;

TEST(Prometheus, NegotiatesOpenMetricsOnlyWhenAskedFor) {
  // What Prometheus 2.42 sends by default.
  EXPECT_EQ(negotiate_format("application/openmetrics-text;version=1.0.0,application/"
                             "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
                             "q=0.5,*/*;q=0.1"),
            ExpositionFormat::kOpenMetrics100);
  EXPECT_EQ(negotiate_format(""), ExpositionFormat::kText004);
  EXPECT_EQ(negotiate_format("*/*"), ExpositionFormat::kText004);
  EXPECT_EQ(negotiate_format("text/plain;version=0.0.4"), ExpositionFormat::kText004);
  EXPECT_EQ(negotiate_format("application/openmetrics-text; q=0"), ExpositionFormat::kText004);
  EXPECT_EQ(negotiate_format("text/plain;q=0.9, application/openmetrics-text;q=0.5"),
            ExpositionFormat::kText004);
  EXPECT_EQ(negotiate_format("Application/OpenMetrics-Text"), ExpositionFormat::kOpenMetrics100);
}

TEST(Prometheus, FormatsNumbersShortestAndOpenMetricsCanonical) {
  EXPECT_EQ(format_double(0.25), "0.25");
  EXPECT_EQ(format_double(1e-05), "1e-05");
  EXPECT_EQ(format_double(1), "1");
  EXPECT_EQ(format_double(1, true), "1.0");
  EXPECT_EQ(format_double(2.5, true), "2.5");
  EXPECT_EQ(format_double(0.0003125), "0.0003125");
  EXPECT_EQ(format_double(0.0001), "0.0001");
  EXPECT_EQ(format_double(1000), "1000");
  EXPECT_EQ(format_double(1e21), "1e21");
}

TEST(Prometheus, EscapesLabelValuesAndRepairsUtf8) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_label_value("x\xFFy"), "x\xEF\xBF\xBDy");
  EXPECT_EQ(escape_label_value("caf\xC3\xA9"), "caf\xC3\xA9");
}

const char *const kGoldenText =
    R"(# HELP kernspan_span_duration_seconds Wall time of finished spans, by span name.
# TYPE kernspan_span_duration_seconds histogram
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="1e-05"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="2.5e-05"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="5e-05"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.0001"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.00025"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.0005"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.001"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.0025"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.005"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.01"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.025"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.05"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.1"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.25"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.5"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="1"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="2.5"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="5"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="10"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="+Inf"} 1
kernspan_span_duration_seconds_sum{service_name="demo",span_name="parse"} 0.0003125
kernspan_span_duration_seconds_count{service_name="demo",span_name="parse"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="1e-05"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="2.5e-05"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="5e-05"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.0001"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.00025"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.0005"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.001"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.0025"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.005"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.01"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.025"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.05"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.1"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.25"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="0.5"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="1"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="2.5"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="5"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="10"} 1
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="request",le="+Inf"} 1
kernspan_span_duration_seconds_sum{service_name="demo",span_name="request"} 0.0025
kernspan_span_duration_seconds_count{service_name="demo",span_name="request"} 1
# HELP kernspan_span_cpu_seconds_total CPU time spent inside spans, by span name.
# TYPE kernspan_span_cpu_seconds_total counter
kernspan_span_cpu_seconds_total{service_name="demo",span_name="request"} 1.01e-07
# HELP kernspan_span_offcpu_seconds_total Time spans spent off-CPU, by span name and reason.
# TYPE kernspan_span_offcpu_seconds_total counter
kernspan_span_offcpu_seconds_total{service_name="demo",span_name="request",reason="runq"} 1.03e-07
kernspan_span_offcpu_seconds_total{service_name="demo",span_name="request",reason="io"} 1.04e-07
kernspan_span_offcpu_seconds_total{service_name="demo",span_name="request",reason="sleep"} 1.05e-07
# HELP kernspan_span_io_bytes_total Bytes read and written by spans, by span name.
# TYPE kernspan_span_io_bytes_total counter
kernspan_span_io_bytes_total{service_name="demo",span_name="request",direction="read"} 108
kernspan_span_io_bytes_total{service_name="demo",span_name="request",direction="write"} 109
# HELP kernspan_span_network_bytes_total Bytes sent and received on sockets by spans, by span name.
# TYPE kernspan_span_network_bytes_total counter
kernspan_span_network_bytes_total{service_name="demo",span_name="request",direction="sent"} 110
kernspan_span_network_bytes_total{service_name="demo",span_name="request",direction="received"} 111
# HELP kernspan_span_errors_total Spans that ended in error (reported incomplete: their thread exited or --span-timeout passed before the end), by span name.
# TYPE kernspan_span_errors_total counter
kernspan_span_errors_total{service_name="demo",span_name="parse"} 0
kernspan_span_errors_total{service_name="demo",span_name="request"} 0
# HELP kernspan_spans_total Finished spans seen.
# TYPE kernspan_spans_total counter
kernspan_spans_total{service_name="demo"} 2
# HELP kernspan_spans_incomplete_total Spans still open when their thread exited.
# TYPE kernspan_spans_incomplete_total counter
kernspan_spans_incomplete_total{service_name="demo"} 0
# HELP kernspan_records_received_total Records received from the kernel's ring buffer.
# TYPE kernspan_records_received_total counter
kernspan_records_received_total 7
# HELP kernspan_dropped_total Records, spans or batches dropped, by place.
# TYPE kernspan_dropped_total counter
kernspan_dropped_total{place="ringbuf_full"} 3
kernspan_dropped_total{place="otlp_queue_full"} 0
# HELP kernspan_span_name_overflow_total Spans counted under the span name __overflow__ because the span name limit was reached.
# TYPE kernspan_span_name_overflow_total counter
kernspan_span_name_overflow_total 0
# HELP kernspan_span_names Distinct span names with their own series.
# TYPE kernspan_span_names gauge
kernspan_span_names 2
# HELP kernspan_ringbuf_size_bytes Size of the span ring buffer's data area.
# TYPE kernspan_ringbuf_size_bytes gauge
kernspan_ringbuf_size_bytes 4194304
# HELP kernspan_ringbuf_used_bytes Bytes in the span ring buffer not yet consumed, at the last look.
# TYPE kernspan_ringbuf_used_bytes gauge
kernspan_ringbuf_used_bytes 96
# HELP kernspan_ringbuf_used_max_bytes Most bytes seen in the span ring buffer just before a drain.
# TYPE kernspan_ringbuf_used_max_bytes gauge
kernspan_ringbuf_used_max_bytes 65536
# HELP kernspan_bpf_stats_enabled 1 while the kernel counts BPF program run time (BPF_ENABLE_STATS).
# TYPE kernspan_bpf_stats_enabled gauge
kernspan_bpf_stats_enabled 1
# HELP kernspan_bpf_program_run_seconds_total Time the kernel spent running each of kernspan's BPF programs.
# TYPE kernspan_bpf_program_run_seconds_total counter
kernspan_bpf_program_run_seconds_total{program="span_begin"} 0.0015
kernspan_bpf_program_run_seconds_total{program="span_end"} 0.002
# HELP kernspan_bpf_program_runs_total Runs of each of kernspan's BPF programs.
# TYPE kernspan_bpf_program_runs_total counter
kernspan_bpf_program_runs_total{program="span_begin"} 1000
kernspan_bpf_program_runs_total{program="span_end"} 1000
# HELP kernspan_process_cpu_seconds_total CPU time of the traced process, all threads, by mode.
# TYPE kernspan_process_cpu_seconds_total counter
kernspan_process_cpu_seconds_total{service_name="demo",pid="1200",mode="user"} 1.25
kernspan_process_cpu_seconds_total{service_name="demo",pid="1200",mode="system"} 0.5
# HELP kernspan_process_resident_memory_bytes Resident memory of the traced process.
# TYPE kernspan_process_resident_memory_bytes gauge
kernspan_process_resident_memory_bytes{service_name="demo",pid="1200"} 52428800
# HELP kernspan_process_memory_limit_bytes Memory the traced process may use: its cgroup's memory.max, else the machine's.
# TYPE kernspan_process_memory_limit_bytes gauge
kernspan_process_memory_limit_bytes{service_name="demo",pid="1200"} 1073741824
# HELP kernspan_process_runqueue_seconds_total Time the traced process's live threads waited for a CPU.
# TYPE kernspan_process_runqueue_seconds_total counter
kernspan_process_runqueue_seconds_total{service_name="demo",pid="1200"} 0.003
# HELP kernspan_process_blkio_seconds_total Time the traced process waited for block I/O (needs delay accounting).
# TYPE kernspan_process_blkio_seconds_total counter
kernspan_process_blkio_seconds_total{service_name="demo",pid="1200"} 0.02
# HELP kernspan_process_io_bytes_total Bytes the traced process read from and wrote to storage.
# TYPE kernspan_process_io_bytes_total counter
kernspan_process_io_bytes_total{service_name="demo",pid="1200",direction="read"} 4096
kernspan_process_io_bytes_total{service_name="demo",pid="1200",direction="write"} 8192
)";

Health health() {
  Health h;
  h.records_received = 7;
  h.drops.add("ringbuf_full", 3);
  h.drops.add("otlp_queue_full", 0);
  h.ringbuf = {true, 4u << 20, 96, 65536};
  h.bpf_stats_enabled = true;
  h.programs = {{"span_begin", 1'500'000, 1000}, {"span_end", 2'000'000, 1000}};
  core::ProcessUsage p;
  p.pid = 1200;
  p.user_ns = 1'250'000'000;
  p.system_ns = 500'000'000;
  p.runqueue_ns = 3'000'000;
  p.blkio_ns = 20'000'000;
  p.io_known = true;
  p.read_bytes = 4096;
  p.write_bytes = 8192;
  p.rss_bytes = 52'428'800;
  p.memory_limit_bytes = 1'073'741'824;
  h.processes = {p};
  return h;
}

TEST(Prometheus, GoldenText004) {
  PrometheusSink sink({"demo", 1000});
  sink.on_span(child_span());
  sink.on_span(root_span());
  sink.set_health(health());
  EXPECT_EQ(sink.render(ExpositionFormat::kText004), kGoldenText);
}

TEST(Prometheus, GoldenOpenMetricsWithExemplars) {
  PrometheusSink sink({"demo", 1000});
  auto later = child_span();
  later.span_id = 0x0102030405060708ULL;
  later.end_unix_nano = later.start_unix_nano + 400'000;
  later.incomplete = true; // an error: counted in kernspan_span_errors_total
  sink.on_span(child_span());
  sink.on_span(later); // same bucket: its exemplar replaces the first one
  sink.set_health(health());
  const std::string om = sink.render(ExpositionFormat::kOpenMetrics100);
  const std::string head = R"(# TYPE kernspan_span_duration_seconds histogram
# UNIT kernspan_span_duration_seconds seconds
# HELP kernspan_span_duration_seconds Wall time of finished spans, by span name.
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="1e-05"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="2.5e-05"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="5e-05"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.0001"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.00025"} 0
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.0005"} 2 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="0102030405060708"} 0.0004 1700000000.123856789
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.001"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.0025"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.005"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.01"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.025"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.05"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.1"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.25"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="0.5"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="1.0"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="2.5"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="5.0"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="10.0"} 2
kernspan_span_duration_seconds_bucket{service_name="demo",span_name="parse",le="+Inf"} 2
kernspan_span_duration_seconds_sum{service_name="demo",span_name="parse"} 0.0007125
kernspan_span_duration_seconds_count{service_name="demo",span_name="parse"} 2
# TYPE kernspan_span_errors counter
# HELP kernspan_span_errors Spans that ended in error (reported incomplete: their thread exited or --span-timeout passed before the end), by span name.
kernspan_span_errors_total{service_name="demo",span_name="parse"} 1
# TYPE kernspan_spans counter
# HELP kernspan_spans Finished spans seen.
kernspan_spans_total{service_name="demo"} 2
)";
  EXPECT_EQ(om.substr(0, head.size()), head);
  EXPECT_NE(
      om.find("# TYPE kernspan_dropped counter\n# HELP kernspan_dropped Records, spans or "
              "batches dropped, by place.\nkernspan_dropped_total{place=\"ringbuf_full\"} 3\n"),
      std::string::npos)
      << om;
  EXPECT_NE(om.find("# TYPE kernspan_span_names gauge\n"), std::string::npos);
  EXPECT_NE(om.find("# TYPE kernspan_bpf_program_run_seconds counter\n# UNIT "
                    "kernspan_bpf_program_run_seconds seconds\n"),
            std::string::npos)
      << om;
  EXPECT_NE(om.find("kernspan_process_io_bytes_total{service_name=\"demo\",pid=\"1200\","
                    "direction=\"read\"} 4096\n"),
            std::string::npos);
  EXPECT_EQ(om.substr(om.size() - 6), "# EOF\n");
  EXPECT_EQ(om.find("_total counter"), std::string::npos) << "OpenMetrics families omit _total";
}

TEST(Prometheus, HostileSpanNamesStayOneValidLabel) {
  PrometheusSink sink({"svc\"\n", 1000});
  auto s = child_span();
  s.name = "we\"ird\\name\nwith\xFF";
  sink.on_span(s);
  const std::string text = sink.render(ExpositionFormat::kText004);
  EXPECT_NE(
      text.find("{service_name=\"svc\\\"\\n\",span_name=\"we\\\"ird\\\\name\\nwith\xEF\xBF\xBD\""),
      std::string::npos)
      << text;
  // Every line is metadata or a sample: no raw newline escaped into a value.
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    const std::string line = text.substr(start, nl - start);
    EXPECT_TRUE(line.rfind("# ", 0) == 0 || line.rfind("kernspan_", 0) == 0) << line;
    start = nl + 1;
  }
}

TEST(Prometheus, SpanNameLimitFoldsNewNamesIntoOverflow) {
  PrometheusSink sink({"demo", 2});
  for (const char *name : {"a", "b", "c", "d", "a"}) {
    auto s = child_span();
    s.name = name;
    sink.on_span(s);
  }
  const std::string text = sink.render(ExpositionFormat::kText004);
  EXPECT_NE(
      text.find("kernspan_span_duration_seconds_count{service_name=\"demo\",span_name=\"a\"} 2"),
      std::string::npos);
  EXPECT_NE(
      text.find("kernspan_span_duration_seconds_count{service_name=\"demo\",span_name=\"b\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("kernspan_span_duration_seconds_count{service_name=\"demo\",span_name=\"__"
                      "overflow__\"} 2"),
            std::string::npos);
  EXPECT_EQ(text.find("span_name=\"c\""), std::string::npos);
  EXPECT_NE(text.find("kernspan_span_name_overflow_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("kernspan_span_names 2\n"), std::string::npos);
  EXPECT_NE(text.find("kernspan_spans_total{service_name=\"demo\"} 5\n"), std::string::npos);
}

TEST(Prometheus, AMillionDistinctNamesGiveBoundedSeries) {
  PrometheusSink sink({"demo", 1000});
  for (int i = 0; i < 1'000'000; i++) {
    auto s = child_span();
    s.name = "GET /item/" + std::to_string(i);
    sink.on_span(s);
  }
  const std::string text = sink.render(ExpositionFormat::kText004);
  EXPECT_NE(text.find("kernspan_span_name_overflow_total 999000\n"), std::string::npos);
  EXPECT_NE(text.find("kernspan_span_names 1000\n"), std::string::npos);
  size_t series = 0;
  for (size_t at = 0;
       (at = text.find("kernspan_span_duration_seconds_count{", at)) != std::string::npos; at++) {
    series++;
  }
  EXPECT_EQ(series, 1001U);
}

TEST(Prometheus, EmptySinkStillRendersHealth) {
  PrometheusSink sink({"demo", 10});
  const std::string om = sink.render(ExpositionFormat::kOpenMetrics100);
  EXPECT_EQ(om.find("kernspan_span_duration_seconds"), std::string::npos);
  EXPECT_NE(om.find("kernspan_records_received_total 0\n"), std::string::npos);
  EXPECT_EQ(om.substr(om.size() - 6), "# EOF\n");
}

core::ThreadCosts thread(uint32_t tgid, uint32_t tid, const char *comm, uint64_t cpu_ns,
                         uint64_t scale) {
  core::ThreadCosts t;
  t.tgid = tgid;
  t.tid = tid;
  t.comm = comm;
  t.costs.cpu_ns = cpu_ns;
  t.costs.runq_ns = 250'000'000 * scale;
  t.costs.io_wait_ns = 125'000'000 * scale;
  t.costs.sleep_ns = 2'000'000'000 * scale;
  t.costs.offcpu_ns = t.costs.runq_ns + t.costs.io_wait_ns + t.costs.sleep_ns;
  t.costs.syscalls = 7 * scale;
  t.costs.read_bytes = 4096 * scale;
  t.costs.write_bytes = 10 * scale;
  t.costs.net_tx_bytes = 3 * scale;
  t.costs.net_rx_bytes = 5 * scale;
  return t;
}

std::string from(const std::string &text, const std::string &start) {
  const size_t at = text.find(start);
  return at == std::string::npos ? "" : text.substr(at);
}

// Two threads get their own series, the third (over --max-threads 2) goes
// to its pid's __overflow__ series; tid 101 exits after the first reading
// and keeps its last values; process sums add what each reading added.
TEST(Prometheus, ThreadFamiliesGoldenText) {
  PrometheusSink sink({"demo", 10, 2});
  sink.update_threads({thread(100, 100, "main", 1'500'000'000, 1),
                       thread(100, 101, "wo\"rk\n", 500'000'000, 2),
                       thread(100, 102, "extra", 100'000'000, 1)},
                      1'000'000'000);
  sink.update_threads(
      {thread(100, 100, "main", 2'000'000'000, 2), thread(100, 102, "extra", 300'000'000, 3)},
      2'000'000'000);
  EXPECT_EQ(from(sink.render(ExpositionFormat::kText004), "# HELP kernspan_thread_"),
            R"(# HELP kernspan_thread_cpu_seconds_total CPU time of each traced thread since attach.
# TYPE kernspan_thread_cpu_seconds_total counter
kernspan_thread_cpu_seconds_total{service_name="demo",pid="100",tid="100",thread="main"} 2
kernspan_thread_cpu_seconds_total{service_name="demo",pid="100",tid="101",thread="wo\"rk\n"} 0.5
kernspan_thread_cpu_seconds_total{service_name="demo",pid="100",tid="__overflow__",thread="__overflow__"} 0.3
# HELP kernspan_thread_offcpu_seconds_total Time each traced thread spent off-CPU since attach, by reason.
# TYPE kernspan_thread_offcpu_seconds_total counter
kernspan_thread_offcpu_seconds_total{service_name="demo",pid="100",tid="100",thread="main",reason="runq"} 0.5
kernspan_thread_offcpu_seconds_total{service_name="demo",pid="100",tid="100",thread="main",reason="io"} 0.25
kernspan_thread_offcpu_seconds_total{service_name="demo",pid="100",tid="100",thread="main",reason="sleep"} 4
kernspan_thread_offcpu_seconds_total{service_name="demo",pid="100",tid="101",thread="wo\"rk\n",reason="runq"} 0.5
kernspan_thread_offcpu_seconds_total{service_name="demo",pid="100",tid="101",thread="wo\"rk\n",reason="io"} 0.25
kernspan_thread_offcpu_seconds_total{service_name="demo",pid="100",tid="101",thread="wo\"rk\n",reason="sleep"} 4
kernspan_thread_offcpu_seconds_total{service_name="demo",pid="100",tid="__overflow__",thread="__overflow__",reason="runq"} 0.75
kernspan_thread_offcpu_seconds_total{service_name="demo",pid="100",tid="__overflow__",thread="__overflow__",reason="io"} 0.375
kernspan_thread_offcpu_seconds_total{service_name="demo",pid="100",tid="__overflow__",thread="__overflow__",reason="sleep"} 6
# HELP kernspan_thread_syscalls_total System calls of each traced thread since attach.
# TYPE kernspan_thread_syscalls_total counter
kernspan_thread_syscalls_total{service_name="demo",pid="100",tid="100",thread="main"} 14
kernspan_thread_syscalls_total{service_name="demo",pid="100",tid="101",thread="wo\"rk\n"} 14
kernspan_thread_syscalls_total{service_name="demo",pid="100",tid="__overflow__",thread="__overflow__"} 21
# HELP kernspan_thread_io_bytes_total Bytes each traced thread read and wrote with read and write system calls.
# TYPE kernspan_thread_io_bytes_total counter
kernspan_thread_io_bytes_total{service_name="demo",pid="100",tid="100",thread="main",direction="read"} 8192
kernspan_thread_io_bytes_total{service_name="demo",pid="100",tid="100",thread="main",direction="write"} 20
kernspan_thread_io_bytes_total{service_name="demo",pid="100",tid="101",thread="wo\"rk\n",direction="read"} 8192
kernspan_thread_io_bytes_total{service_name="demo",pid="100",tid="101",thread="wo\"rk\n",direction="write"} 20
kernspan_thread_io_bytes_total{service_name="demo",pid="100",tid="__overflow__",thread="__overflow__",direction="read"} 12288
kernspan_thread_io_bytes_total{service_name="demo",pid="100",tid="__overflow__",thread="__overflow__",direction="write"} 30
# HELP kernspan_thread_network_bytes_total Bytes each traced thread sent and received on TCP and UDP sockets.
# TYPE kernspan_thread_network_bytes_total counter
kernspan_thread_network_bytes_total{service_name="demo",pid="100",tid="100",thread="main",direction="sent"} 6
kernspan_thread_network_bytes_total{service_name="demo",pid="100",tid="100",thread="main",direction="received"} 10
kernspan_thread_network_bytes_total{service_name="demo",pid="100",tid="101",thread="wo\"rk\n",direction="sent"} 6
kernspan_thread_network_bytes_total{service_name="demo",pid="100",tid="101",thread="wo\"rk\n",direction="received"} 10
kernspan_thread_network_bytes_total{service_name="demo",pid="100",tid="__overflow__",thread="__overflow__",direction="sent"} 9
kernspan_thread_network_bytes_total{service_name="demo",pid="100",tid="__overflow__",thread="__overflow__",direction="received"} 15
# HELP kernspan_thread_overflow_total Threads counted under tid __overflow__ because the thread limit was reached.
# TYPE kernspan_thread_overflow_total counter
kernspan_thread_overflow_total 1
# HELP kernspan_threads Threads with their own series, exited ones still kept included.
# TYPE kernspan_threads gauge
kernspan_threads 2
# HELP kernspan_process_offcpu_seconds_total Time the traced process's threads spent off-CPU since attach, by reason.
# TYPE kernspan_process_offcpu_seconds_total counter
kernspan_process_offcpu_seconds_total{service_name="demo",pid="100",reason="runq"} 1.75
kernspan_process_offcpu_seconds_total{service_name="demo",pid="100",reason="io"} 0.875
kernspan_process_offcpu_seconds_total{service_name="demo",pid="100",reason="sleep"} 14
# HELP kernspan_process_syscalls_total System calls of the traced process's threads since attach.
# TYPE kernspan_process_syscalls_total counter
kernspan_process_syscalls_total{service_name="demo",pid="100"} 49
# HELP kernspan_process_network_bytes_total Bytes the traced process's threads sent and received on TCP and UDP sockets.
# TYPE kernspan_process_network_bytes_total counter
kernspan_process_network_bytes_total{service_name="demo",pid="100",direction="sent"} 21
kernspan_process_network_bytes_total{service_name="demo",pid="100",direction="received"} 35
# HELP kernspan_process_overflow_total Processes counted under pid __overflow__ because the process limit (the thread limit) was reached.
# TYPE kernspan_process_overflow_total counter
kernspan_process_overflow_total 0
)");
  const std::string om = sink.render(ExpositionFormat::kOpenMetrics100);
  EXPECT_NE(om.find("# TYPE kernspan_thread_cpu_seconds counter\n# UNIT "
                    "kernspan_thread_cpu_seconds seconds\n"),
            std::string::npos);
  EXPECT_NE(om.find("\nkernspan_threads 2\n"), std::string::npos);
  EXPECT_EQ(om.substr(om.size() - 6), "# EOF\n");
}

// Processes come and go (a backend per connection): past --max-threads
// distinct pids their sums share pid="__overflow__", so a long run with
// ever new pids keeps a bounded number of series.
TEST(Prometheus, ProcessSumsPastTheLimitShareOneOverflowPid) {
  PrometheusSink sink({"demo", 10, 2});
  uint64_t now = 1'000'000'000;
  for (uint32_t pid = 1000; pid < 21000; pid++) {
    // Each process lives for one reading, with two threads.
    sink.update_threads(
        {thread(pid, pid, "backend", 1000, 1), thread(pid, pid + 50000, "bg", 0, 1)}, now);
    now += 1'000'000'000;
  }
  sink.update_threads({}, now);
  const std::string text = sink.render(ExpositionFormat::kText004);
  EXPECT_NE(text.find("kernspan_process_overflow_total 19998\n"), std::string::npos);
  EXPECT_NE(text.find("kernspan_process_syscalls_total{service_name=\"demo\",pid=\"1000\"} 14\n"),
            std::string::npos);
  EXPECT_NE(text.find("kernspan_process_syscalls_total{service_name=\"demo\",pid=\"1001\"} 14\n"),
            std::string::npos);
  EXPECT_NE(text.find("kernspan_process_syscalls_total{service_name=\"demo\",pid=\"__overflow__\"} "
                      "279972\n"),
            std::string::npos);
  EXPECT_EQ(text.find("pid=\"1002\""), std::string::npos);
  size_t series = 0;
  for (size_t at = 0; (at = text.find("kernspan_process_syscalls_total{", at)) != std::string::npos;
       at++) {
    series++;
  }
  EXPECT_EQ(series, 3U);
}

// Without a reading (thread costs off) there are no thread families.
TEST(Prometheus, NoThreadFamiliesWithoutThreadReadings) {
  PrometheusSink sink({"demo", 10});
  EXPECT_EQ(sink.render(ExpositionFormat::kText004).find("kernspan_thread"), std::string::npos);
  sink.update_threads({}, 1);
  const std::string text = sink.render(ExpositionFormat::kText004);
  EXPECT_EQ(
      from(text, "# HELP kernspan_thread_"),
      R"(# HELP kernspan_thread_overflow_total Threads counted under tid __overflow__ because the thread limit was reached.
# TYPE kernspan_thread_overflow_total counter
kernspan_thread_overflow_total 0
# HELP kernspan_threads Threads with their own series, exited ones still kept included.
# TYPE kernspan_threads gauge
kernspan_threads 0
# HELP kernspan_process_overflow_total Processes counted under pid __overflow__ because the process limit (the thread limit) was reached.
# TYPE kernspan_process_overflow_total counter
kernspan_process_overflow_total 0
)");
}

// An exited thread's series go once it has been absent for the retention
// time, freeing its slot; process sums never go down; a tid whose totals
// went down is a new thread and counts from zero.
TEST(Prometheus, ExitedThreadsExpireAndReusedTidsCountAgain) {
  PrometheusOptions o{"demo", 10, 1};
  o.thread_retention_ns = 1000;
  PrometheusSink sink(o);
  sink.update_threads({thread(7, 8, "a", 3'000'000'000, 1)}, 0);
  sink.update_threads({}, 1000); // absent, still within the retention time
  std::string text = sink.render(ExpositionFormat::kText004);
  EXPECT_NE(text.find("kernspan_thread_cpu_seconds_total{service_name=\"demo\",pid=\"7\",tid=\"8\","
                      "thread=\"a\"} 3\n"),
            std::string::npos)
      << text;
  sink.update_threads({thread(7, 9, "b", 1'000'000'000, 1)}, 1001); // over the limit
  sink.update_threads({thread(7, 9, "b", 1'000'000'000, 1)}, 1002);
  text = sink.render(ExpositionFormat::kText004);
  EXPECT_EQ(text.find("tid=\"8\""), std::string::npos) << text; // expired
  EXPECT_NE(text.find("kernspan_threads 0\n"), std::string::npos);
  EXPECT_NE(text.find("kernspan_thread_overflow_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("tid=\"__overflow__\",thread=\"__overflow__\"} 1\n"), std::string::npos);
  // A new thread gets the freed slot; tid 10 reused later restarts at its own values.
  sink.update_threads({thread(7, 10, "c", 2'000'000'000, 1)}, 1003);
  sink.update_threads({thread(7, 10, "c2", 500'000'000, 1)}, 1004);
  text = sink.render(ExpositionFormat::kText004);
  EXPECT_NE(
      text.find("kernspan_thread_cpu_seconds_total{service_name=\"demo\",pid=\"7\",tid=\"10\","
                "thread=\"c2\"} 0.5\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("kernspan_threads 1\n"), std::string::npos);
  // tid 9 (overflow) exited: forgotten, but its share stays in the sum.
  EXPECT_NE(text.find("tid=\"__overflow__\",thread=\"__overflow__\"} 1\n"), std::string::npos);
  // 4 readings of new threads with syscalls 7 each: a, b, c, c2.
  EXPECT_NE(text.find("kernspan_process_syscalls_total{service_name=\"demo\",pid=\"7\"} 28\n"),
            std::string::npos)
      << text;
}

// promtool (Debian package prometheus) lints the text format: names, units,
// _total on counters, HELP on every family, parseable samples.
TEST(Prometheus, PromtoolAcceptsTheTextFormat) {
  const char *promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) {
    GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
  }
  PrometheusSink sink({"demo", 1, 1});
  sink.on_span(child_span());
  sink.on_span(root_span()); // over the limit: the overflow series too
  auto odd = child_span();
  odd.name = "bad\"\n\xFF";
  sink.on_span(odd);
  sink.set_health(health());
  sink.update_threads({thread(100, 100, "main", 1'500'000'000, 1),
                       thread(100, 101, "bad\"\n\xFF", 500'000'000, 2),
                       thread(200, 201, "other", 100'000'000, 1)},
                      1);
  const std::string text = sink.render(ExpositionFormat::kText004);
  EXPECT_NE(text.find("tid=\"__overflow__\""), std::string::npos);
  const std::string cmd = std::string(promtool) + " check metrics 2>&1";
  FILE *p = popen(cmd.c_str(), "w");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(std::fwrite(text.data(), 1, text.size(), p), text.size());
  const int status = pclose(p);
  EXPECT_EQ(status, 0) << "promtool rejected:\n" << text;
}

} // namespace
} // namespace kernspan::exporters
