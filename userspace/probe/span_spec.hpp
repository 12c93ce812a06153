// SPDX-License-Identifier: Apache-2.0
// --span 'PROVIDER:BEGIN..PROVIDER:END[,name=...][,attr.KEY=...]...[,id=argK]'
// where name= is a literal, argN (the text as it is), sql(argN) or
// norm(argN) (the text with its varying values taken out, the whole text
// kept as an attribute: see core/normalize.hpp).
// and --usdt 'PROVIDER:PROBE': spans and counts from USDT probes a program
// already ships.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kernspan::probe {

struct ProbeRef {
  std::string provider;
  std::string name;
  [[nodiscard]] std::string str() const { return provider + ":" + name; }
};

// One value taken from a probe argument: argN (the begin probe's) or
// end.argN (the end probe's); str(...) reads a char pointer as text.
struct ArgRef {
  int index = -1; // -1: none
  bool from_end = false;
  bool is_string = false;
};

// How a name read from an argument becomes the span's name.
enum class NameForm {
  kAsIs, // name=argN
  kSql,  // name=sql(argN): core::normalize_sql
  kText, // name=norm(argN): core::normalize_text
};

struct SpanSpec {
  ProbeRef begin;
  ProbeRef end;
  std::string literal_name; // used when name is not from an argument
  ArgRef name;              // a string argument naming each span
  NameForm name_form = NameForm::kAsIs;
  std::vector<std::pair<std::string, ArgRef>> attrs;
  int id_arg = -1; // async: begin's and end's argK pair them across threads
};

// Throws ProbeError "bad --span spec '...': <what> at character N".
// Without name=, spans are named after the begin probe.
SpanSpec parse_span_spec(const std::string &spec);

// Throws ProbeError "bad --usdt spec '...': ... at character N".
ProbeRef parse_probe_ref(const std::string &spec, const char *flag = "--usdt");

// Number of arguments in a USDT note's argument string ("8@%rbp -4@%eax").
int usdt_arg_count(const std::string &args);

} // namespace kernspan::probe
