// SPDX-License-Identifier: Apache-2.0
#include "exporters/json_writer.hpp"

#include <charconv>
#include <cmath>

namespace kernspan::exporters {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not valid
// (overlongs, surrogates and code points past U+10FFFF are invalid).
size_t utf8_len(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  uint32_t min = 0;
  uint32_t cp = 0;
  if (b0 < 0x80) {
    return 1;
  }
  if ((b0 & 0xE0) == 0xC0) {
    n = 2;
    min = 0x80;
    cp = b0 & 0x1Fu;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3;
    min = 0x800;
    cp = b0 & 0x0Fu;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4;
    min = 0x10000;
    cp = b0 & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  for (size_t k = 1; k < n; k++) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

} // namespace

void JsonWriter::append_string(std::string &out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
      i++;
      continue;
    }
    switch (c) {
    case '"':
      out += "\\\"";
      i++;
      continue;
    case '\\':
      out += "\\\\";
      i++;
      continue;
    case '\n':
      out += "\\n";
      i++;
      continue;
    case '\r':
      out += "\\r";
      i++;
      continue;
    case '\t':
      out += "\\t";
      i++;
      continue;
    default:
      break;
    }
    if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      i++;
      continue;
    }
    const size_t n = utf8_len(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD"; // U+FFFD for each invalid byte
      i++;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  out.push_back('"');
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
