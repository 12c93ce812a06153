// SPDX-License-Identifier: Apache-2.0
// One line per finished span on a terminal. Spans arrive when they end, so a
// child prints before its parent; the indent shows the nesting depth.
#pragma once

#include <cstdio>
#include <string>

#include "exporters/sink.hpp"

namespace kernspan::exporters {

class ConsoleSink : public Sink {
public:
  // `out` is not owned. Times print in local time unless `utc`.
  explicit ConsoleSink(std::FILE *out, bool utc = false) : out_(out), utc_(utc) {}

  void on_span(const core::Span &span) override;
  void flush() override;

  // The line for one span (the time is its start), without the newline:
  // "21:14:03.123456    1234 worker           parse  312.5us  trace=<32 hex> span=<16 hex>"
  // then " parent=<16 hex>" plus " (remote)" for a remote parent,
  // " INCOMPLETE" after the duration when the thread ended first, and
  // " key=value" per attribute (strings quoted). Two spaces of indent per depth.
  static std::string format_line(const core::Span &span, bool utc);
  // The same appended to `line`.
  static void append_line(std::string &line, const core::Span &span, bool utc);

private:
  std::FILE *out_;
  bool utc_;
  std::string line_; // reused: no allocation per span
};

} // namespace kernspan::exporters
