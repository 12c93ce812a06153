// SPDX-License-Identifier: Apache-2.0
// Span files beyond JSON Lines (-o FILE --format ...): OTLP JSON for the
// OpenTelemetry Collector, Chrome Trace Event JSON for Perfetto, and InfluxDB
// line protocol. Each writes on the consumer thread through OutputFile's
// buffer; spans that cannot be written are counted (<format>_write_failed),
// and the run's exit status says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "exporters/otlp_encode.hpp"
#include "exporters/output_file.hpp"
#include "exporters/sink.hpp"

namespace kernspan::exporters {

enum class FileFormat { kJsonl, kOtlpJson, kChrome, kInflux };

// "jsonl", "otlp-json", "chrome", "influx"; nullopt for anything else.
std::optional<FileFormat> parse_file_format(std::string_view name);

// One OTLP ExportTraceServiceRequest in OTLP/JSON per line (encode_otlp's
// JSON form), as the OpenTelemetry Collector's file exporter writes and its
// otlpjsonfile receiver reads. A line holds up to max_batch spans; flush()
// writes the spans gathered so far as a line of their own.
class OtlpJsonFileSink : public Sink {
public:
  OtlpJsonFileSink(const std::string &path, Attributes resource, size_t max_batch = 512);
  ~OtlpJsonFileSink() override;

  void on_span(const core::Span &span) override;
  void flush() override;
  void close() override;
  void add_drops(core::DropCounts &out) const override; // otlp_json_write_failed: spans
  [[nodiscard]] bool write_failed() const override { return file_.failed(); }

private:
  void write_batch();

  OutputFile file_;
  const Attributes resource_;
  const size_t max_batch_;
  std::vector<core::Span> batch_;
  std::string line_;
  bool closed_ = false;
};

// Chrome Trace Event JSON (object form), which Perfetto UI and
// chrome://tracing open: {"traceEvents":[ ... ]}, one event per line.
//   - each span is a complete event ("ph":"X") with pid = tgid, tid = tid,
//     "cat":"span", and ts/dur in microseconds written as exact decimals
//     with three fractional digits (the nanoseconds); spans on one thread
//     nest by time, so each thread is one track with its span tree;
//   - "M" metadata events name each process (the service name) and each
//     thread (its comm) before its first span, and again if a thread is
//     renamed;
//   - args: trace_id, span_id, parent_span_id (not for roots), the span's
//     attributes, kernspan.incomplete / kernspan.remote_parent when set,
//     and "costs" (the keys of core::for_each_cost) when it has costs.
// The closing "]}" is written by close(), which also runs when tracing is
// interrupted (Ctrl-C, SIGTERM), so the file is always valid JSON after a
// clean exit.
class ChromeTraceSink : public Sink {
public:
  ChromeTraceSink(const std::string &path, std::string process_name);
  ~ChromeTraceSink() override;

  void on_span(const core::Span &span) override;
  void flush() override;
  void close() override;
  void add_drops(core::DropCounts &out) const override; // chrome_write_failed: spans
  [[nodiscard]] bool write_failed() const override { return file_.failed(); }

  // The events for one span (metadata events first when `names` has not
  // seen its process or thread name), separated by ",\n"; a separator
  // precedes the first event unless `first`, which is then cleared. For
  // golden tests.
  struct Names {
    std::unordered_set<uint32_t> processes;
    std::unordered_map<uint32_t, std::string> threads;
  };
  static void append_events(std::string &out, const core::Span &span,
                            const std::string &process_name, Names &names, bool &first);

private:
  OutputFile file_;
  const std::string process_name_;
  Names names_;
  bool first_ = true;
  std::string buf_;
  bool closed_ = false;
};

// InfluxDB line protocol, one point per span:
//   kernspan_span,service=S,span_name=N,thread=T duration_ns=<int>i,
//     trace_id="…",span_id="…",parent_span_id="…",tgid=<int>i,tid=<int>i
//     [,incomplete=true][,<cost>=<int>i ...] <end_unix_nano>
// Tags are sorted by key (the order InfluxDB prefers); an empty tag value is
// left out (line protocol forbids it); parent_span_id is "" for a root.
// Escaping per the line-protocol rules: in tag values ',', '=' and ' ' are
// backslash-escaped; in string field values '"' and '\' are. Line protocol
// cannot carry a newline in any value, nor a backslash at the end of a tag
// value, so control characters, and backslashes in tag values, become '?'.
// Invalid UTF-8 becomes U+FFFD. The timestamp is the span's end, in ns:
// a point says "this span finished then, having taken duration_ns".
class InfluxSink : public Sink {
public:
  InfluxSink(const std::string &path, std::string service);
  ~InfluxSink() override;

  void on_span(const core::Span &span) override;
  void flush() override;
  void close() override;
  void add_drops(core::DropCounts &out) const override; // influx_write_failed: spans
  [[nodiscard]] bool write_failed() const override { return file_.failed(); }

  // The line for one span, with its newline.
  static void append_line(std::string &out, const core::Span &span, std::string_view service);
  // A tag value as line protocol needs it (see above).
  static std::string escape_tag_value(std::string_view v);

private:
  OutputFile file_;
  const std::string service_;
  std::string line_;
  bool closed_ = false;
};

} // namespace kernspan::exporters
