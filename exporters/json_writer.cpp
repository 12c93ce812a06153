// SPDX-License-Identifier: Apache-2.0
#include "exporters/json_writer.hpp"

#include "exporters/utf8.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

namespace kernspan::exporters {
namespace {

// Bytes that stand for themselves inside a JSON string: printable ASCII
// other than '"' and '\\'.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (unsigned c = 0x20; c < 0x80; c++) {
    t[c] = c != '"' && c != '\\';
  }
  return t;
}();

} // namespace

char *JsonWriter::put_string(char *dst, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  *dst++ = '"';
  size_t i = 0;
  while (i < s.size()) {
    // Runs of plain bytes (most strings are one run) are copied at once.
    size_t run = i;
    while (run < s.size() && kPlain[static_cast<unsigned char>(s[run])]) {
      run++;
    }
    if (run != i) {
      std::memcpy(dst, s.data() + i, run - i);
      dst += run - i;
      i = run;
      continue;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    char esc = 0;
    switch (c) {
    case '"':
      esc = '"';
      break;
    case '\\':
      esc = '\\';
      break;
    case '\n':
      esc = 'n';
      break;
    case '\r':
      esc = 'r';
      break;
    case '\t':
      esc = 't';
      break;
    default:
      break;
    }
    if (esc != 0) {
      *dst++ = '\\';
      *dst++ = esc;
      i++;
      continue;
    }
    if (c < 0x20) {
      dst[0] = '\\';
      dst[1] = 'u';
      dst[2] = '0';
      dst[3] = '0';
      dst[4] = kHex[c >> 4];
      dst[5] = kHex[c & 0xF];
      dst += 6;
      i++;
      continue;
    }
    size_t bad = 0;
    const size_t n = utf8_sequence(s, i, &bad);
    if (n == 0) {
      // One U+FFFD per maximal invalid subpart.
      dst[0] = static_cast<char>(0xEF);
      dst[1] = static_cast<char>(0xBF);
      dst[2] = static_cast<char>(0xBD);
      dst += 3;
      i += bad;
    } else {
      std::memcpy(dst, s.data() + i, n);
      dst += n;
      i += n;
    }
  }
  *dst++ = '"';
  return dst;
}

void JsonWriter::append_string(std::string &out, std::string_view s) {
  const size_t old = out.size();
  out.resize(old + max_string_bytes(s.size()));
  char *end = put_string(out.data() + old, s);
  out.resize(static_cast<size_t>(end - out.data()));
}

void JsonWriter::comma() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_) {
    out_.push_back(',');
  }
  first_ = false;
}

void JsonWriter::open(char c) {
  comma();
  out_.push_back(c);
  first_ = true;
}

void JsonWriter::close(char c) {
  out_.push_back(c);
  first_ = false;
}

void JsonWriter::key(std::string_view k) {
  comma();
  append_string(out_, k);
  out_.push_back(':');
  after_key_ = true;
}

void JsonWriter::value(std::string_view s) {
  comma();
  append_string(out_, s);
}

void JsonWriter::value(uint64_t v) {
  comma();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, r.ptr);
}

void JsonWriter::value(int64_t v) {
  comma();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, r.ptr);
}

void JsonWriter::raw(std::string_view json) {
  comma();
  out_.append(json);
}

void JsonWriter::value(bool v) {
  comma();
  out_ += v ? "true" : "false";
}

void JsonWriter::value(double v) {
  comma();
  if (!std::isfinite(v)) {
    out_ += "null"; // JSON has no NaN or infinity
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, r.ptr);
}

} // namespace kernspan::exporters
