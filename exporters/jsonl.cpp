// SPDX-License-Identifier: Apache-2.0
#include "exporters/jsonl.hpp"

#include "exporters/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <variant>

namespace kernspan::exporters {

namespace {

// Room for everything of a line but its strings: the keys, 26 numbers of
// at most 20 digits (or a double's 24 characters), the ids.
constexpr size_t kFixedBytes = 1280;
// Per attribute besides its key and text: punctuation and a number.
constexpr size_t kAttrBytes = 40;

// The line is written straight into a buffer sized for the worst case, with
// no allocation and no per-value bookkeeping (one span per line at
// hundreds of thousands a second). The output is byte for byte what
// JsonWriter with write_span_attributes / write_span_costs would write.
class Line {
public:
  explicit Line(char *p) : p_(p) {}
  [[nodiscard]] char *end() const { return p_; }

  template <size_t N> void lit(const char (&s)[N]) {
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }
  void ch(char c) { *p_++ = c; }
  void str(std::string_view s) { p_ = JsonWriter::put_string(p_, s); }
  template <typename T> void num(T v) { p_ = std::to_chars(p_, p_ + 24, v).ptr; }
  void hex_digits(uint64_t v) { p_ = core::put_hex64(p_, v); }
  void hex(uint64_t v) {
    ch('"');
    hex_digits(v);
    ch('"');
  }
  void value(const core::AttrValue &v) {
    std::visit(
        [this](const auto &x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>) {
            str(x);
          } else if constexpr (std::is_same_v<T, bool>) {
            if (x) {
              lit("true");
            } else {
              lit("false");
            }
          } else if constexpr (std::is_same_v<T, double>) {
            if (std::isfinite(x)) {
              num(x);
            } else {
              lit("null"); // JSON has no NaN or infinity
            }
          } else {
            num(x);
          }
        },
        v);
  }

private:
  char *p_;
};

size_t max_line_bytes(const core::Span &span) {
  size_t n = kFixedBytes + JsonWriter::max_string_bytes(span.name.size()) +
             JsonWriter::max_string_bytes(span.thread.size());
  for (const auto &[k, v] : span.attributes) {
    n += kAttrBytes + JsonWriter::max_string_bytes(k.size());
    if (const auto *s = std::get_if<std::string>(&v)) {
      n += JsonWriter::max_string_bytes(s->size());
    }
  }
  return n;
}

char *write_line(char *dst, const core::Span &span) {
  Line w(dst);
  w.lit("{\"name\":");
  w.str(span.name);
  w.lit(",\"trace_id\":\"");
  w.hex_digits(span.trace_id.hi);
  w.hex_digits(span.trace_id.lo);
  w.lit("\",\"span_id\":");
  w.hex(span.span_id);
  w.lit(",\"parent_span_id\":");
  if (span.parent_span_id != 0) {
    w.hex(span.parent_span_id);
  } else {
    w.lit("\"\"");
  }
  w.lit(",\"start_unix_nano\":");
  w.num(span.start_unix_nano);
  w.lit(",\"end_unix_nano\":");
  w.num(span.end_unix_nano);
  w.lit(",\"tgid\":");
  w.num(span.tgid);
  w.lit(",\"tid\":");
  w.num(span.tid);
  w.lit(",\"thread\":");
  w.str(span.thread);
  w.lit(",\"attributes\":{");
  bool first = true;
  const auto member = [&](std::string_view key) {
    if (!first) {
      w.ch(',');
    }
    first = false;
    w.str(key);
    w.ch(':');
  };
  for (const auto &[k, v] : span.attributes) {
    if ((k == "kernspan.incomplete" && span.incomplete) ||
        (k == "kernspan.remote_parent" && span.remote_parent)) {
      continue; // written once, below
    }
    member(k);
    w.value(v);
  }
  if (span.incomplete) {
    member("kernspan.incomplete");
    w.lit("true");
  }
  if (span.remote_parent) {
    member("kernspan.remote_parent");
    w.lit("true");
  }
  w.ch('}');
  if (span.has_costs) {
    w.lit(",\"costs\":{");
    first = true;
    core::for_each_cost(span.costs, [&](const char *key, uint64_t v) {
      member(key);
      w.num(v);
    });
    w.ch('}');
  }
  w.ch('}');
  return w.end();
}

} // namespace

JsonlSink::JsonlSink(const std::string &path) : file_(path, "jsonl") {}

JsonlSink::~JsonlSink() {
  JsonlSink::close();
}

void JsonlSink::append_line(std::string &out, const core::Span &span) {
  const size_t old = out.size();
  out.resize(old + max_line_bytes(span));
  char *end = write_line(out.data() + old, span);
  out.resize(static_cast<size_t>(end - out.data()));
}

std::string JsonlSink::format_line(const core::Span &span) {
  std::string out;
  append_line(out, span);
  return out;
}

void JsonlSink::on_span(const core::Span &span) {
  // line_ only grows: its bytes are overwritten, never cleared or filled.
  const size_t need = max_line_bytes(span) + 1;
  if (line_.size() < need) {
    line_.resize(need);
  }
  char *end = write_line(line_.data(), span);
  *end++ = '\n';
  file_.write(std::string_view(line_.data(), static_cast<size_t>(end - line_.data())), 1);
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
