// SPDX-License-Identifier: Apache-2.0
#include "exporters/jsonl.hpp"

#include "exporters/json_writer.hpp"
#include "exporters/span_json.hpp"

namespace kernspan::exporters {

JsonlSink::JsonlSink(const std::string &path) : file_(path, "jsonl") {}

JsonlSink::~JsonlSink() {
  JsonlSink::close();
}

void JsonlSink::append_line(std::string &out, const core::Span &span) {
  JsonWriter w(out);
  w.begin_object();
  w.key("name");
  w.value(span.name);
  w.key("trace_id");
  w.value(span.trace_id.hex());
  w.key("span_id");
  w.value(core::span_id_hex(span.span_id));
  w.key("parent_span_id");
  w.value(span.parent_span_id != 0 ? core::span_id_hex(span.parent_span_id) : std::string());
  w.key("start_unix_nano");
  w.value(span.start_unix_nano);
  w.key("end_unix_nano");
  w.value(span.end_unix_nano);
  w.key("tgid");
  w.value(span.tgid);
  w.key("tid");
  w.value(span.tid);
  w.key("thread");
  w.value(span.thread);
  w.key("attributes");
  w.begin_object();
  write_span_attributes(w, span);
  w.end_object();
  write_span_costs(w, span);
  w.end_object();
}

std::string JsonlSink::format_line(const core::Span &span) {
  std::string out;
  append_line(out, span);
  return out;
}

void JsonlSink::on_span(const core::Span &span) {
  line_.clear();
  append_line(line_, span);
  line_.push_back('\n');
  file_.write(line_, 1);
}

void JsonlSink::flush() {
  file_.flush();
}

void JsonlSink::add_drops(core::DropCounts &out) const {
  out.add("jsonl_write_failed", file_.lost_spans());
}

void JsonlSink::close() {
  file_.close();
}

} // namespace kernspan::exporters
