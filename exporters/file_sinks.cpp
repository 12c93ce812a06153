// SPDX-License-Identifier: Apache-2.0
#include "exporters/file_sinks.hpp"

#include <cstdio>
#include <utility>

#include "exporters/json_writer.hpp"
#include "exporters/span_json.hpp"
#include "exporters/utf8.hpp"

namespace kernspan::exporters {
namespace {

// "1700000000123456.789": ns as exact decimal microseconds. A double would
// lose the nanoseconds of a Unix timestamp; the JSON number text keeps them.
void append_micros(std::string &out, uint64_t ns) {
  char buf[32];
  const int n =
      std::snprintf(buf, sizeof(buf), "%llu.%03llu", static_cast<unsigned long long>(ns / 1000),
                    static_cast<unsigned long long>(ns % 1000));
  out.append(buf, static_cast<size_t>(n));
}

std::string micros(uint64_t ns) {
  std::string s;
  append_micros(s, ns);
  return s;
}

// Line protocol has no escape for control characters (newlines end a point).
bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// A string field value: quoted, '"' and '\' escaped.
void append_field_string(std::string &out, std::string_view v) {
  out.push_back('"');
  for (const char c : sanitize_utf8(v)) {
    if (is_control(static_cast<unsigned char>(c))) {
      out.push_back('?');
      continue;
    }
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('"');
}

void append_u64(std::string &out, uint64_t v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(v));
  out.append(buf, static_cast<size_t>(n));
}

// An integer field; line protocol integers are signed 64-bit.
void append_int_field(std::string &out, const char *key, uint64_t v) {
  out.push_back(',');
  out += key;
  out.push_back('=');
  append_u64(out, v > INT64_MAX ? uint64_t{INT64_MAX} : v);
  out.push_back('i');
}

} // namespace

std::optional<FileFormat> parse_file_format(std::string_view name) {
  if (name == "jsonl") {
    return FileFormat::kJsonl;
  }
  if (name == "otlp-json") {
    return FileFormat::kOtlpJson;
  }
  if (name == "chrome") {
    return FileFormat::kChrome;
  }
  if (name == "influx") {
    return FileFormat::kInflux;
  }
  return std::nullopt;
}

// ---- OTLP JSON ------------------------------------------------------------

OtlpJsonFileSink::OtlpJsonFileSink(const std::string &path, Attributes resource, size_t max_batch)
    : file_(path, "otlp-json"), resource_(std::move(resource)),
      max_batch_(max_batch == 0 ? 1 : max_batch) {
  batch_.reserve(max_batch_);
}

OtlpJsonFileSink::~OtlpJsonFileSink() {
  OtlpJsonFileSink::close();
}

void OtlpJsonFileSink::on_span(const core::Span &span) {
  if (closed_) {
    file_.write({}, 1); // counted lost
    return;
  }
  batch_.push_back(span);
  if (batch_.size() >= max_batch_) {
    write_batch();
  }
}

void OtlpJsonFileSink::write_batch() {
  if (batch_.empty()) {
    return;
  }
  line_.clear();
  append_otlp_json(line_, batch_, resource_);
  line_.push_back('\n');
  file_.write(line_, batch_.size());
  batch_.clear();
}

void OtlpJsonFileSink::flush() {
  write_batch();
  file_.flush();
}

void OtlpJsonFileSink::close() {
  if (closed_) {
    return;
  }
  flush();
  file_.close();
  closed_ = true;
}

void OtlpJsonFileSink::add_drops(core::DropCounts &out) const {
  out.add("otlp_json_write_failed", file_.lost_spans());
}

// ---- Chrome Trace Event JSON ----------------------------------------------

ChromeTraceSink::ChromeTraceSink(const std::string &path, std::string process_name)
    : file_(path, "chrome"), process_name_(std::move(process_name)) {
  file_.write("{\"traceEvents\":[\n", 0);
}

ChromeTraceSink::~ChromeTraceSink() {
  ChromeTraceSink::close();
}

void ChromeTraceSink::append_events(std::string &out, const core::Span &span,
                                    const std::string &process_name, Names &names, bool &first) {
  const auto separate = [&] {
    if (!first) {
      out += ",\n";
    }
    first = false;
  };
  const auto metadata = [&](const char *what, bool with_tid, std::string_view name) {
    separate();
    JsonWriter w(out);
    w.begin_object();
    w.key("name");
    w.value(what);
    w.key("ph");
    w.value("M");
    w.key("pid");
    w.value(span.tgid);
    if (with_tid) {
      w.key("tid");
      w.value(span.tid);
    }
    w.key("args");
    w.begin_object();
    w.key("name");
    w.value(name);
    w.end_object();
    w.end_object();
  };
  if (names.processes.insert(span.tgid).second) {
    metadata("process_name", false, process_name);
  }
  auto [thread, fresh] = names.threads.try_emplace(span.tid, span.thread);
  if (fresh || thread->second != span.thread) {
    thread->second = span.thread;
    metadata("thread_name", true, span.thread);
  }

  separate();
  JsonWriter w(out);
  w.begin_object();
  w.key("name");
  w.value(span.name);
  w.key("cat");
  w.value("span");
  w.key("ph");
  w.value("X");
  w.key("ts");
  w.raw(micros(span.start_unix_nano));
  w.key("dur");
  w.raw(micros(span.duration_ns()));
  w.key("pid");
  w.value(span.tgid);
  w.key("tid");
  w.value(span.tid);
  w.key("args");
  w.begin_object();
  w.key("trace_id");
  w.value(span.trace_id.hex());
  w.key("span_id");
  w.value(core::span_id_hex(span.span_id));
  if (span.parent_span_id != 0) {
    w.key("parent_span_id");
    w.value(core::span_id_hex(span.parent_span_id));
  }
  write_span_attributes(w, span);
  write_span_costs(w, span);
  w.end_object();
  w.end_object();
}

void ChromeTraceSink::on_span(const core::Span &span) {
  if (closed_) {
    file_.write({}, 1); // counted lost
    return;
  }
  buf_.clear();
  append_events(buf_, span, process_name_, names_, first_);
  file_.write(buf_, 1);
}

void ChromeTraceSink::flush() {
  file_.flush();
}

void ChromeTraceSink::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  file_.write("\n]}\n", 0);
  file_.close();
}

void ChromeTraceSink::add_drops(core::DropCounts &out) const {
  out.add("chrome_write_failed", file_.lost_spans());
}

// ---- InfluxDB line protocol -----------------------------------------------

std::string InfluxSink::escape_tag_value(std::string_view v) {
  std::string out;
  const std::string clean = sanitize_utf8(v);
  out.reserve(clean.size() + 4);
  for (const char c : clean) {
    if (is_control(static_cast<unsigned char>(c)) || c == '\\') {
      out.push_back('?');
      continue;
    }
    if (c == ',' || c == '=' || c == ' ') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

void InfluxSink::append_line(std::string &out, const core::Span &span, std::string_view service) {
  out += "kernspan_span";
  const auto tag = [&](const char *key, std::string_view value) {
    if (!value.empty()) {
      out.push_back(',');
      out += key;
      out.push_back('=');
      out += escape_tag_value(value);
    }
  };
  tag("service", service);
  tag("span_name", span.name);
  tag("thread", span.thread);
  out += " duration_ns=";
  append_u64(out, span.duration_ns());
  out.push_back('i');
  out += ",trace_id=";
  append_field_string(out, span.trace_id.hex());
  out += ",span_id=";
  append_field_string(out, core::span_id_hex(span.span_id));
  out += ",parent_span_id=";
  append_field_string(out, span.parent_span_id != 0 ? core::span_id_hex(span.parent_span_id) : "");
  append_int_field(out, "tgid", span.tgid);
  append_int_field(out, "tid", span.tid);
  if (span.incomplete) {
    out += ",incomplete=true";
  }
  if (span.has_costs) {
    core::for_each_cost(span.costs,
                        [&](const char *key, uint64_t v) { append_int_field(out, key, v); });
  }
  out.push_back(' ');
  append_u64(out, span.end_unix_nano);
  out.push_back('\n');
}

InfluxSink::InfluxSink(const std::string &path, std::string service)
    : file_(path, "influx"), service_(std::move(service)) {}

InfluxSink::~InfluxSink() {
  InfluxSink::close();
}

void InfluxSink::on_span(const core::Span &span) {
  if (closed_) {
    file_.write({}, 1); // counted lost
    return;
  }
  line_.clear();
  append_line(line_, span, service_);
  file_.write(line_, 1);
}

void InfluxSink::flush() {
  file_.flush();
}

void InfluxSink::close() {
  if (!closed_) {
    closed_ = true;
    file_.close();
  }
}

void InfluxSink::add_drops(core::DropCounts &out) const {
  out.add("influx_write_failed", file_.lost_spans());
}

} // namespace kernspan::exporters
