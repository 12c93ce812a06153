// SPDX-License-Identifier: Apache-2.0
#include "exporters/console.hpp"

#include <ctime>
#include <string>
#include <type_traits>

#include "exporters/format.hpp"

namespace kernspan::exporters {

namespace {

// "HH:MM:SS.uuuuuu" appended to out. The broken-down time is kept for the
// last second seen: spans come in bursts within a second, and localtime_r
// costs more than the rest of the line.
void append_time(std::string &out, uint64_t unix_ns, bool utc) {
  thread_local time_t last_secs = -1;
  thread_local bool last_utc = false;
  thread_local char hms[40] = {};
  const auto secs = static_cast<time_t>(unix_ns / 1'000'000'000);
  const auto micros = static_cast<unsigned>((unix_ns % 1'000'000'000) / 1000);
  if (secs != last_secs || utc != last_utc) {
    tm parts{};
    if (utc) {
      gmtime_r(&secs, &parts);
    } else {
      localtime_r(&secs, &parts);
    }
    std::snprintf(hms, sizeof hms, "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec);
    last_secs = secs;
    last_utc = utc;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s.%06u", hms, micros);
  out += buf;
}

// s with control bytes shown as '?' (printable()), appended to out.
void append_printable(std::string &out, const std::string &s) {
  const size_t old = out.size();
  out += s;
  for (size_t i = old; i < out.size(); i++) {
    const auto u = static_cast<unsigned char>(out[i]);
    if (u < 0x20 || u == 0x7f) {
      out[i] = '?';
    }
  }
}

void append_hex(std::string &out, uint64_t v) {
  char buf[16];
  core::put_hex64(buf, v);
  out.append(buf, sizeof buf);
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

void ConsoleSink::append_line(std::string &line, const core::Span &span, bool utc) {
  append_time(line, span.start_unix_nano, utc);
  char head[16];
  std::snprintf(head, sizeof head, " %7u ", span.tid);
  line += head;
  // The thread padded to 15 columns, as "%-15s" would.
  const size_t thread_at = line.size();
  append_printable(line, span.thread);
  if (line.size() - thread_at < 15) {
    line.append(15 - (line.size() - thread_at), ' ');
  }
  line += ' ';
  line.append(2 * static_cast<size_t>(span.depth), ' ');
  append_printable(line, span.name);
  line += "  ";
  line += format_duration(span.duration_ns());
  if (span.incomplete) {
    line += " INCOMPLETE";
  }
  line += "  trace=";
  append_hex(line, span.trace_id.hi);
  append_hex(line, span.trace_id.lo);
  line += " span=";
  append_hex(line, span.span_id);
  if (span.parent_span_id != 0) {
    line += " parent=";
    append_hex(line, span.parent_span_id);
    if (span.remote_parent) {
      line += " (remote)";
    }
  }
  for (const auto &[key, value] : span.attributes) {
    line += ' ';
    append_printable(line, key);
    line += '=';
    line += format_attr(value);
  }
}

std::string ConsoleSink::format_line(const core::Span &span, bool utc) {
  std::string line;
  append_line(line, span, utc);
  return line;
}

void ConsoleSink::on_span(const core::Span &span) {
  line_.clear();
  append_line(line_, span, utc_);
  line_ += '\n';
  std::fwrite(line_.data(), 1, line_.size(), out_);
}

void ConsoleSink::flush() {
  std::fflush(out_);
}

} // namespace kernspan::exporters
