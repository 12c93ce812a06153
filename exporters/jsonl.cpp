// SPDX-License-Identifier: Apache-2.0
#include "exporters/jsonl.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "exporters/json_writer.hpp"

namespace kernspan::exporters {

namespace {

constexpr size_t kBufferBytes = size_t{1} << 20;

} // namespace

JsonlSink::JsonlSink(const std::string &path) {
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr) {
    throw std::runtime_error("jsonl: cannot open '" + path +
                             "' for writing: " + std::strerror(errno));
  }
  std::setvbuf(file_, nullptr, _IOFBF, kBufferBytes);
}

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
  for (const auto &[k, v] : span.attributes) {
    if ((k == "kernspan.incomplete" && span.incomplete) ||
        (k == "kernspan.remote_parent" && span.remote_parent)) {
      continue; // written once, below
    }
    w.key(k);
    std::visit([&](const auto &x) { w.value(x); }, v);
  }
  if (span.incomplete) {
    w.key("kernspan.incomplete");
    w.value(true);
  }
  if (span.remote_parent) {
    w.key("kernspan.remote_parent");
    w.value(true);
  }
  w.end_object();
  if (span.has_costs) {
    w.key("costs");
    w.begin_object();
    core::for_each_cost(span.costs, [&](const char *key, uint64_t v) {
      w.key(key);
      w.value(v);
    });
    w.end_object();
  }
  w.end_object();
}

std::string JsonlSink::format_line(const core::Span &span) {
  std::string out;
  append_line(out, span);
  return out;
}

void JsonlSink::on_span(const core::Span &span) {
  if (file_ == nullptr) {
    ++write_errors_;
    return;
  }
  line_.clear();
  append_line(line_, span);
  line_.push_back('\n');
  if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) {
    ++write_errors_;
  }
}

void JsonlSink::flush() {
  if (file_ != nullptr && std::fflush(file_) != 0) {
    ++write_errors_;
  }
}

void JsonlSink::add_drops(core::DropCounts &out) const {
  out.add("jsonl_write_failed", write_errors_);
}

void JsonlSink::close() {
  if (file_ == nullptr) {
    return;
  }
  flush();
  if (std::fclose(file_) != 0) {
    ++write_errors_;
  }
  file_ = nullptr;
}

} // namespace kernspan::exporters
