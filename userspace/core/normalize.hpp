// SPDX-License-Identifier: Apache-2.0
// Span names from text the target chooses (query texts, paths, keys): the
// varying values are taken out so that one kind of work has one name, while
// the literal text can still travel as an attribute. Pure C++, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kernspan::core {

// Longest normalized text, in bytes. Longer results end in "..." (cut at a
// UTF-8 character boundary) so that a name never exceeds it.
constexpr size_t kMaxNormalizedBytes = 1024;

// A SQL statement with its constants replaced, in the manner of PostgreSQL's
// pg_stat_statements:
//  - integers, decimals, hex/octal/binary integers, strings ('' escapes,
//    E'' with backslash escapes, B'', X'', N'', U&''), dollar-quoted strings
//    ($$..$$, $tag$..$tag$) and the words true and false become $1, $2, ...
//    in order of appearance, numbered after the highest $N the text already
//    has (existing parameters are kept as they are). NULL is kept: it is
//    not a value the application varies per call.
//  - a minus sign that is a sign (after an operator, '(', ',', '[' or an
//    expression keyword such as SELECT, WHERE, AND, THEN) is part of its
//    number: "= -1" gives "= $1"; a binary minus ("x-1") stays.
//  - IN followed by a parenthesized list of nothing but constants collapses
//    to one placeholder, as PostgreSQL 18 writes it: "IN ($1 /*, ... */)",
//    whatever the number of elements.
//  - comments (-- to end of line, nested /* */) are removed; runs of
//    whitespace and control bytes become one space; the ends are trimmed.
//  - identifiers, "quoted identifiers", keywords and casts ('1'::int gives
//    $1::int) are left exactly as written, case included.
// Linear in the input, never fails: unterminated quotes and comments run to
// the end, bytes that are not UTF-8 pass through as identifier bytes.
// At most max_bytes bytes (minimum 8).
std::string normalize_sql(std::string_view sql, size_t max_bytes = kMaxNormalizedBytes);

// Generic text (paths, keys, messages): every run of decimal digits, every
// 0x hex number, every UUID (8-4-4-4-12 hex digits) and every other run of
// 8 or more hex digits that has a decimal digit in it becomes one "?".
// Runs of whitespace and control bytes become one space; the ends are
// trimmed. Linear, at most max_bytes bytes (minimum 8).
std::string normalize_text(std::string_view text, size_t max_bytes = kMaxNormalizedBytes);

} // namespace kernspan::core
