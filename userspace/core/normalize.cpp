// SPDX-License-Identifier: Apache-2.0
#include "core/normalize.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace kernspan::core {
namespace {

constexpr size_t kMinBytes = 8;
constexpr size_t kMaxDollarTag = 64; // longer $tag$ delimiters are not taken as quotes
constexpr std::string_view kEllipsis = "...";
constexpr std::string_view kInList = " /*, ... */)";

bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
// Whitespace, and control bytes, which are no part of a name either.
bool is_space(unsigned char c) {
  return c <= ' ' || c == 0x7f;
}
// PostgreSQL's identifiers: letters, '_' and every byte >= 0x80 start one.
bool ident_start(unsigned char c) {
  return is_alpha(c) || c == '_' || c >= 0x80;
}
bool ident_cont(unsigned char c) {
  return ident_start(c) || is_digit(c) || c == '$';
}
bool is_op_char(unsigned char c) {
  return std::string_view("+-*/<>=~!@#%^&|`?:;").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

unsigned char at(std::string_view s, size_t i) {
  return i < s.size() ? static_cast<unsigned char>(s[i]) : 0;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); i++) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<unsigned char>(x - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

// Words after which a '-' before a number is a sign, not a subtraction.
bool is_expr_keyword(std::string_view w) {
  static constexpr std::array<std::string_view, 24> kWords = {
      "select", "where",   "and",    "or",        "not",    "when", "then",    "else",
      "case",   "between", "limit",  "offset",    "values", "on",   "having",  "is",
      "like",   "ilike",   "return", "returning", "in",     "by",   "default", "escape"};
  return std::any_of(kWords.begin(), kWords.end(),
                     [w](std::string_view k) { return iequals(w, k); });
}

// Output that stops growing at its cap; finish() marks a cut with "...".
class Bounded {
public:
  explicit Bounded(size_t max) : max_(std::max(max, kMinBytes)) {}

  void space() { pending_space_ = !out_.empty(); }
  [[nodiscard]] bool full() const { return full_; }
  void put(std::string_view t) {
    if (full_) {
      return;
    }
    if (pending_space_) {
      pending_space_ = false;
      put(" ");
    }
    const size_t room = max_ + 1 - out_.size(); // one over the cap tells a cut
    if (t.size() >= room) {
      out_.append(t.substr(0, room));
      full_ = true;
      return;
    }
    out_.append(t);
  }
  std::string finish() && {
    if (out_.size() > max_) {
      size_t cut = max_ - kEllipsis.size();
      // Back off UTF-8 continuation bytes so no character is split.
      for (int k = 0; k < 3 && cut > 0 && (static_cast<unsigned char>(out_[cut]) & 0xC0) == 0x80;
           k++) {
        cut--;
      }
      out_.resize(cut);
      out_.append(kEllipsis);
    }
    return std::move(out_);
  }

private:
  std::string out_;
  size_t max_;
  bool pending_space_ = false;
  bool full_ = false;
};

// ---- SQL --------------------------------------------------------------

// Past a '...' string whose opening quote is at i. backslash: E'' escapes.
size_t string_end(std::string_view s, size_t i, bool backslash) {
  for (size_t j = i + 1; j < s.size(); j++) {
    if (backslash && s[j] == '\\') {
      j++;
    } else if (s[j] == '\'') {
      if (at(s, j + 1) != '\'') {
        return j + 1;
      }
      j++;
    }
  }
  return s.size();
}

// Length of the $tag$ delimiter at i (a '$'), or 0 if there is none.
size_t dollar_delim(std::string_view s, size_t i) {
  size_t j = i + 1;
  if (j < s.size() && s[j] != '$' && (!ident_start(at(s, j)))) {
    return 0;
  }
  while (j < s.size() && j - i <= kMaxDollarTag && s[j] != '$') {
    const auto c = at(s, j);
    if (!(ident_start(c) || is_digit(c))) {
      return 0;
    }
    j++;
  }
  return at(s, j) == '$' ? j - i + 1 : 0;
}

// Past the dollar-quoted string at i whose delimiter is delim bytes long.
size_t dollar_end(std::string_view s, size_t i, size_t delim) {
  const auto close = s.find(s.substr(i, delim), i + delim);
  return close == std::string_view::npos ? s.size() : close + delim;
}

// Past the number at i (a digit, or '.' before a digit).
size_t number_end(std::string_view s, size_t i) {
  if (s[i] == '0' && (at(s, i + 1) | 0x20) == 'x' && is_hex(at(s, i + 2))) {
    size_t j = i + 2;
    while (is_hex(at(s, j)) || at(s, j) == '_') {
      j++;
    }
    return j;
  }
  if (s[i] == '0' && ((at(s, i + 1) | 0x20) == 'o' || (at(s, i + 1) | 0x20) == 'b') &&
      is_digit(at(s, i + 2))) {
    i += 2;
  }
  size_t j = i;
  while (is_digit(at(s, j)) || (j > i && at(s, j) == '_' && is_digit(at(s, j + 1)))) {
    j++;
  }
  if (at(s, j) == '.' && at(s, j + 1) != '.') {
    j++;
    while (is_digit(at(s, j))) {
      j++;
    }
  }
  if ((at(s, j) | 0x20) == 'e') {
    size_t k = j + 1;
    if (at(s, k) == '+' || at(s, k) == '-') {
      k++;
    }
    if (is_digit(at(s, k))) {
      j = k;
      while (is_digit(at(s, j))) {
        j++;
      }
    }
  }
  return j;
}

bool number_start(std::string_view s, size_t i) {
  return is_digit(at(s, i)) || (at(s, i) == '.' && is_digit(at(s, i + 1)));
}

size_t word_end(std::string_view s, size_t i) {
  while (i < s.size() && ident_cont(at(s, i))) {
    i++;
  }
  return i;
}

// Past whitespace and comments from i; *any says whether there were some.
size_t skip_blank(std::string_view s, size_t i, bool *any) {
  while (i < s.size()) {
    if (is_space(at(s, i))) {
      i++;
    } else if (s[i] == '-' && at(s, i + 1) == '-') {
      const auto nl = s.find('\n', i);
      i = nl == std::string_view::npos ? s.size() : nl + 1;
    } else if (s[i] == '/' && at(s, i + 1) == '*') {
      size_t depth = 1;
      i += 2;
      while (i < s.size() && depth > 0) {
        if (s[i] == '/' && at(s, i + 1) == '*') {
          depth++;
          i += 2;
        } else if (s[i] == '*' && at(s, i + 1) == '/') {
          depth--;
          i += 2;
        } else {
          i++;
        }
      }
    } else {
      break;
    }
    *any = true;
  }
  return i;
}

// A string constant at i with its prefix (E'', B'', X'', N'', U&''): where
// it ends, or 0 if there is none.
size_t prefixed_string_end(std::string_view s, size_t i, size_t word_end_at) {
  const std::string_view w = s.substr(i, word_end_at - i);
  if (w.size() == 1 && at(s, word_end_at) == '\'' &&
      std::string_view("EeBbXxNn").find(w[0]) != std::string_view::npos) {
    return string_end(s, word_end_at, w[0] == 'E' || w[0] == 'e');
  }
  if (iequals(w, "u") && at(s, word_end_at) == '&' && at(s, word_end_at + 1) == '\'') {
    return string_end(s, word_end_at + 1, false);
  }
  return 0;
}

// A constant at i (signed numbers included): where it ends, or 0.
size_t constant_end(std::string_view s, size_t i) {
  const auto c = at(s, i);
  if (c == '\'') {
    return string_end(s, i, false);
  }
  if (c == '-' && number_start(s, i + 1)) {
    return number_end(s, i + 1);
  }
  if (number_start(s, i)) {
    return number_end(s, i);
  }
  if (c == '$') {
    const size_t d = dollar_delim(s, i);
    return d == 0 ? 0 : dollar_end(s, i, d);
  }
  if (ident_start(c)) {
    const size_t e = word_end(s, i);
    if (const size_t p = prefixed_string_end(s, i, e); p != 0) {
      return p;
    }
    const auto w = s.substr(i, e - i);
    return iequals(w, "true") || iequals(w, "false") ? e : 0;
  }
  return 0;
}

// After "IN" at i: "( constant [, constant]... )" with blanks and comments
// anywhere. Returns the position past ')' and sets *blank_before (blank
// between IN and '('), or 0 if the list is not constants only.
size_t in_list_end(std::string_view s, size_t i, bool *blank_before) {
  bool any = false;
  i = skip_blank(s, i, &any);
  *blank_before = any;
  if (at(s, i) != '(') {
    return 0;
  }
  i++;
  while (true) {
    i = skip_blank(s, i, &any);
    const size_t e = constant_end(s, i);
    if (e == 0) {
      return 0;
    }
    i = skip_blank(s, e, &any);
    if (at(s, i) == ')') {
      return i + 1;
    }
    if (at(s, i) != ',') {
      return 0;
    }
    i++;
  }
}

enum class Prev { kStart, kOperator, kOpen, kKeyword, kOperand };

class SqlNormalizer {
public:
  SqlNormalizer(std::string_view s, size_t max, uint64_t first_param)
      : s_(s), out_(max), next_(first_param) {}

  // The highest $N already in s (0 if none).
  static uint64_t max_param(std::string_view s) {
    SqlNormalizer scan(s, kMinBytes, 0);
    scan.dry_ = true;
    scan.scan();
    return scan.max_param_;
  }

  std::string run() && {
    scan();
    return std::move(out_).finish();
  }

private:
  void scan() {
    size_t i = 0;
    while (i < s_.size() && !out_.full()) {
      i = step(i);
    }
  }

  void emit(std::string_view t) {
    if (!dry_) {
      out_.put(t);
    }
  }

  void placeholder(std::string_view suffix = {}) {
    next_++;
    if (!dry_) {
      emit("$" + std::to_string(next_) + std::string(suffix));
    }
  }

  // One token from i; returns where the next one starts.
  size_t step(size_t i) {
    const auto c = at(s_, i);
    if (is_space(c) || (c == '-' && at(s_, i + 1) == '-') || (c == '/' && at(s_, i + 1) == '*')) {
      bool any = false;
      i = skip_blank(s_, i, &any);
      out_.space();
      return i;
    }
    if (c == '\'') {
      placeholder();
      prev_ = Prev::kOperand;
      return string_end(s_, i, false);
    }
    if (c == '"') {
      size_t j = i + 1;
      while (j < s_.size() && !(s_[j] == '"' && at(s_, j + 1) != '"')) {
        j += s_[j] == '"' ? 2 : 1;
      }
      j = std::min(j + 1, s_.size());
      emit(s_.substr(i, j - i));
      prev_ = Prev::kOperand;
      return j;
    }
    if (c == '$') {
      return dollar(i);
    }
    if (number_start(s_, i) || (c == '-' && number_start(s_, i + 1) && prev_ != Prev::kOperand)) {
      placeholder();
      prev_ = Prev::kOperand;
      return number_end(s_, c == '-' ? i + 1 : i);
    }
    if (ident_start(c)) {
      return word(i);
    }
    emit(s_.substr(i, 1));
    if (c == '(' || c == '[') {
      prev_ = Prev::kOpen;
    } else if (c == ',' || is_op_char(c)) {
      prev_ = Prev::kOperator;
    } else {
      prev_ = Prev::kOperand; // ')', ']', '.', '{', ...
    }
    return i + 1;
  }

  // A parameter ($3), a dollar-quoted string, or a lone '$'.
  size_t dollar(size_t i) {
    if (is_digit(at(s_, i + 1))) {
      size_t j = i + 1;
      uint64_t n = 0;
      while (is_digit(at(s_, j))) {
        n = n < UINT64_MAX / 16 ? n * 10 + (at(s_, j) - '0') : n;
        j++;
      }
      max_param_ = std::max(max_param_, n);
      emit(s_.substr(i, j - i));
      prev_ = Prev::kOperand;
      return j;
    }
    if (const size_t d = dollar_delim(s_, i); d != 0) {
      placeholder();
      prev_ = Prev::kOperand;
      return dollar_end(s_, i, d);
    }
    emit("$");
    prev_ = Prev::kOperand;
    return i + 1;
  }

  size_t word(size_t i) {
    const size_t e = word_end(s_, i);
    if (const size_t p = prefixed_string_end(s_, i, e); p != 0) {
      placeholder();
      prev_ = Prev::kOperand;
      return p;
    }
    const auto w = s_.substr(i, e - i);
    if (iequals(w, "true") || iequals(w, "false")) {
      placeholder();
      prev_ = Prev::kOperand;
      return e;
    }
    emit(w);
    prev_ = is_expr_keyword(w) ? Prev::kKeyword : Prev::kOperand;
    if (iequals(w, "in")) {
      bool blank = false;
      if (const size_t end = in_list_end(s_, e, &blank); end != 0) {
        if (blank) {
          out_.space();
        }
        emit("(");
        placeholder(kInList);
        prev_ = Prev::kOperand;
        return end;
      }
    }
    return e;
  }

  std::string_view s_;
  Bounded out_;
  uint64_t next_;
  uint64_t max_param_ = 0;
  bool dry_ = false;
  Prev prev_ = Prev::kStart;
};

// ---- generic text -----------------------------------------------------

bool is_alnum(unsigned char c) {
  return is_digit(c) || is_alpha(c);
}

// A UUID (8-4-4-4-12 hex digits) at i.
bool uuid_at(std::string_view s, size_t i) {
  static constexpr std::array<size_t, 5> kGroups = {8, 4, 4, 4, 12};
  size_t j = i;
  for (size_t g = 0; g < kGroups.size(); g++) {
    for (size_t k = 0; k < kGroups[g]; k++, j++) {
      if (!is_hex(at(s, j))) {
        return false;
      }
    }
    if (g + 1 < kGroups.size()) {
      if (at(s, j) != '-') {
        return false;
      }
      j++;
    }
  }
  return !is_alnum(at(s, j));
}

} // namespace

std::string normalize_sql(std::string_view sql, size_t max_bytes) {
  const uint64_t first =
      sql.find('$') == std::string_view::npos ? 0 : SqlNormalizer::max_param(sql);
  return SqlNormalizer(sql, max_bytes, first).run();
}

std::string normalize_text(std::string_view text, size_t max_bytes) {
  Bounded out(max_bytes);
  size_t i = 0;
  while (i < text.size() && !out.full()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (is_space(c)) {
      out.space();
      i++;
      continue;
    }
    const bool boundary = i == 0 || !is_alnum(static_cast<unsigned char>(text[i - 1]));
    if (boundary && uuid_at(text, i)) {
      out.put("?");
      i += 36;
      continue;
    }
    if (boundary && c == '0' && (at(text, i + 1) | 0x20) == 'x' && is_hex(at(text, i + 2))) {
      size_t j = i + 2;
      while (is_hex(at(text, j))) {
        j++;
      }
      if (!is_alnum(at(text, j))) {
        out.put("?");
        i = j;
        continue;
      }
    }
    if (boundary && is_hex(c)) {
      // A whole word of hex digits: 8 or more with a decimal digit among them.
      size_t j = i;
      bool digit = false;
      while (is_hex(at(text, j))) {
        digit = digit || is_digit(at(text, j));
        j++;
      }
      if (j - i >= 8 && digit && !is_alnum(at(text, j))) {
        out.put("?");
        i = j;
        continue;
      }
    }
    if (is_digit(c)) {
      while (is_digit(at(text, i))) {
        i++;
      }
      out.put("?");
      continue;
    }
    out.put(text.substr(i, 1));
    i++;
  }
  return std::move(out).finish();
}

} // namespace kernspan::core
