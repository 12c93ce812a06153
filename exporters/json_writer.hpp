// SPDX-License-Identifier: Apache-2.0
// A small, fast JSON emitter for hot paths (one span per line at hundreds of
// thousands of spans a second): appends to a std::string, escapes per
// RFC 8259, and replaces invalid UTF-8 with U+FFFD (see utf8.hpp) so output
// is always valid.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kernspan::exporters {

class JsonWriter {
public:
  explicit JsonWriter(std::string &out) : out_(out) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  // An object member's key; the value follows with one of the calls below.
  void key(std::string_view k);
  void value(std::string_view s);
  void value(const char *s) { value(std::string_view(s)); }
  void value(uint64_t v);
  void value(int64_t v);
  void value(uint32_t v) { value(uint64_t{v}); }
  void value(bool v);
  void value(double v);
  // A value already in JSON form (e.g. an exact decimal "1.500"), appended
  // as is: the caller guarantees it is valid JSON.
  void raw(std::string_view json);

  // Append `s` as a quoted JSON string (exposed for tests).
  static void append_string(std::string &out, std::string_view s);
  // The same written at `dst`, which has room for max_string_bytes(s.size())
  // bytes; returns the end of what was written.
  static char *put_string(char *dst, std::string_view s);
  // At most 6 bytes per byte of text (a control byte becomes \u00XX, an
  // invalid byte U+FFFD's 3 bytes) and the quotes.
  static constexpr size_t max_string_bytes(size_t n) { return 6 * n + 2; }

private:
  void open(char c);
  void close(char c);
  void comma();

  std::string &out_;
  bool first_ = true; // no member written yet at this level
  bool after_key_ = false;
};

} // namespace kernspan::exporters
