// SPDX-License-Identifier: Apache-2.0
// JSON Lines: one span per line, for jq, pandas and replay.
#pragma once

#include <cstdint>
#include <string>

#include "exporters/output_file.hpp"
#include "exporters/sink.hpp"

namespace kernspan::exporters {

// Keys of every line, in this order: name, trace_id (32 hex), span_id (16
// hex), parent_span_id (16 hex, "" for a root), start_unix_nano,
// end_unix_nano, tgid, tid, thread, attributes; then costs (the keys of
// core::for_each_cost) only when span.has_costs. attributes also carries
// "kernspan.incomplete": true and "kernspan.remote_parent": true when those
// flags are set. Invalid UTF-8 becomes U+FFFD, so every line is valid JSON.
class JsonlSink : public Sink {
public:
  // Truncates or creates `path`; throws std::runtime_error if it can't.
  explicit JsonlSink(const std::string &path);
  ~JsonlSink() override;

  void on_span(const core::Span &span) override;
  void flush() override;
  void close() override;
  void add_drops(core::DropCounts &out) const override; // jsonl_write_failed: spans
  [[nodiscard]] bool write_failed() const override { return file_.failed(); }

  // Spans that could not be written (disk full, closed file).
  [[nodiscard]] uint64_t lost_spans() const { return file_.lost_spans(); }

  // The line for one span, without the newline.
  static std::string format_line(const core::Span &span);
  static void append_line(std::string &out, const core::Span &span);

private:
  OutputFile file_;
  std::string line_; // reused: no allocation per span
};

} // namespace kernspan::exporters
