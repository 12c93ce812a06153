// SPDX-License-Identifier: Apache-2.0
#include "exporters/console.hpp"

#include <ctime>
#include <type_traits>

#include "exporters/format.hpp"

namespace kernspan::exporters {

namespace {

std::string format_time(uint64_t unix_ns, bool utc) {
  const auto secs = static_cast<time_t>(unix_ns / 1'000'000'000);
  const auto micros = static_cast<unsigned>((unix_ns % 1'000'000'000) / 1000);
  tm parts{};
  if (utc) {
    gmtime_r(&secs, &parts);
  } else {
    localtime_r(&secs, &parts);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06u", parts.tm_hour, parts.tm_min, parts.tm_sec,
                micros);
  return buf;
}

std::string format_attr(const core::AttrValue &value) {
  return std::visit(
      [](const auto &v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          // Appended, not `"\"" + printable(v) + "\""`: GCC 12 at -O3 warns
          // wrongly (-Wrestrict, GCC bug 105329) on literal + temporary.
          std::string quoted(1, '"');
          quoted += printable(v);
          quoted += '"';
          return quoted;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%g", v);
          return buf;
        } else {
          return std::to_string(v);
        }
      },
      value);
}

} // namespace

std::string ConsoleSink::format_line(const core::Span &span, bool utc) {
  char head[64];
  std::snprintf(head, sizeof head, " %7u %-15s ", span.tid, printable(span.thread).c_str());
  std::string line = format_time(span.start_unix_nano, utc);
  line += head;
  line.append(2 * static_cast<size_t>(span.depth), ' ');
  line += printable(span.name);
  line += "  ";
  line += format_duration(span.duration_ns());
  if (span.incomplete) {
    line += " INCOMPLETE";
  }
  line += "  trace=";
  line += span.trace_id.hex();
  line += " span=";
  line += core::span_id_hex(span.span_id);
  if (span.parent_span_id != 0) {
    line += " parent=";
    line += core::span_id_hex(span.parent_span_id);
    if (span.remote_parent) {
      line += " (remote)";
    }
  }
  for (const auto &[key, value] : span.attributes) {
    line += ' ';
    line += printable(key);
    line += '=';
    line += format_attr(value);
  }
  return line;
}

void ConsoleSink::on_span(const core::Span &span) {
  const std::string line = format_line(span, utc_);
  std::fprintf(out_, "%s\n", line.c_str());
}

void ConsoleSink::flush() {
  std::fflush(out_);
}

} // namespace kernspan::exporters
