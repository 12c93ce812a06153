// SPDX-License-Identifier: Apache-2.0
#include "exporters/json_writer.hpp"

#include "exporters/utf8.hpp"

#include <charconv>
#include <cmath>

namespace kernspan::exporters {
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
    size_t bad = 0;
    const size_t n = utf8_sequence(s, i, &bad);
    if (n == 0) {
      out += "\xEF\xBF\xBD"; // one U+FFFD per maximal invalid subpart
      i += bad;
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
