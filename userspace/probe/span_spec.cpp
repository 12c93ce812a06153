// SPDX-License-Identifier: Apache-2.0
#include "probe/span_spec.hpp"

#include "probe/error.hpp"

#include <cctype>
#include <sstream>

namespace kernspan::probe {
namespace {

constexpr const char *kSpanSyntax =
    "PROVIDER:BEGIN..PROVIDER:END[,name=argN|end.argN|sql(argN)|norm(argN)|TEXT]"
    "[,attr.KEY=[str(]argM[)]]...[,id=argK]";

ProbeError bad(const char *flag, const std::string &spec, const std::string &what, size_t pos,
               const char *syntax) {
  return ProbeError(std::string("bad ") + flag + " spec '" + spec + "': " + what +
                    " at character " + std::to_string(pos + 1) + " (expected " + syntax + ")");
}

bool is_ident(const std::string &s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// "PROVIDER:NAME" at spec[pos, pos + text.size())
ProbeRef probe_at(const char *flag, const std::string &spec, const std::string &text, size_t pos,
                  const char *syntax) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) {
    throw bad(flag, spec, "missing ':' in probe '" + text + "'", pos + text.size(), syntax);
  }
  ProbeRef r{text.substr(0, colon), text.substr(colon + 1)};
  if (!is_ident(r.provider)) {
    throw bad(flag, spec, "bad provider name", pos, syntax);
  }
  if (!is_ident(r.name)) {
    throw bad(flag, spec, "bad probe name", pos + colon + 1, syntax);
  }
  return r;
}

// "argN", "end.argN", optionally wrapped in "str(...)". Returns false if the
// text is not an argument reference at all (for name=, that is a literal).
bool parse_arg(const std::string &spec, const std::string &text, size_t pos, bool allow_str,
               ArgRef *out) {
  std::string t = text;
  size_t off = 0;
  ArgRef a;
  if (allow_str && t.rfind("str(", 0) == 0) {
    if (t.back() != ')') {
      throw bad("--span", spec, "missing ')'", pos + t.size(), kSpanSyntax);
    }
    a.is_string = true;
    t = t.substr(4, t.size() - 5);
    off = 4;
  }
  if (t.rfind("end.", 0) == 0) {
    a.from_end = true;
    t = t.substr(4);
    off += 4;
  }
  if (t.rfind("arg", 0) != 0) {
    if (a.is_string || a.from_end) {
      throw bad("--span", spec, "expected argN", pos + off, kSpanSyntax);
    }
    return false;
  }
  const std::string digits = t.substr(3);
  if (digits.empty() || digits.size() > 2 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    throw bad("--span", spec, "expected an argument number after 'arg'", pos + off + 3,
              kSpanSyntax);
  }
  a.index = std::stoi(digits);
  if (a.index > 11) {
    throw bad("--span", spec, "USDT probes have at most 12 arguments (arg0..arg11)", pos + off + 3,
              kSpanSyntax);
  }
  *out = a;
  return true;
}

} // namespace

int usdt_arg_count(const std::string &args) {
  std::istringstream in(args);
  int n = 0;
  std::string tok;
  while (in >> tok) {
    n++;
  }
  return n;
}

ProbeRef parse_probe_ref(const std::string &spec, const char *flag) {
  return probe_at(flag, spec, spec, 0, "PROVIDER:PROBE");
}

SpanSpec parse_span_spec(const std::string &spec) {
  SpanSpec out;
  // Split on ',' keeping each piece's position.
  std::vector<std::pair<std::string, size_t>> parts;
  size_t start = 0;
  while (true) {
    const auto comma = spec.find(',', start);
    parts.emplace_back(spec.substr(start, comma - start), start);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  const auto &[pair, ppos] = parts[0];
  const auto dots = pair.find("..");
  if (dots == std::string::npos) {
    throw bad("--span", spec, "missing '..' between the begin and end probes", pair.size(),
              kSpanSyntax);
  }
  out.begin = probe_at("--span", spec, pair.substr(0, dots), ppos, kSpanSyntax);
  out.end = probe_at("--span", spec, pair.substr(dots + 2), ppos + dots + 2, kSpanSyntax);
  out.literal_name = out.begin.name;
  for (size_t i = 1; i < parts.size(); i++) {
    const auto &[text, pos] = parts[i];
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw bad("--span", spec, "expected KEY=VALUE", pos, kSpanSyntax);
    }
    const std::string key = text.substr(0, eq);
    const std::string val = text.substr(eq + 1);
    const size_t vpos = pos + eq + 1;
    if (val.empty()) {
      throw bad("--span", spec, "empty value", vpos, kSpanSyntax);
    }
    if (key == "name") {
      ArgRef a;
      const bool sql = val.rfind("sql(", 0) == 0;
      if (sql || val.rfind("norm(", 0) == 0) {
        const size_t open = sql ? 4 : 5;
        if (val.back() != ')') {
          throw bad("--span", spec, "missing ')'", vpos + val.size(), kSpanSyntax);
        }
        const std::string inner = val.substr(open, val.size() - open - 1);
        if (!parse_arg(spec, inner, vpos + open, false, &a)) {
          throw bad("--span", spec, "expected argN or end.argN", vpos + open, kSpanSyntax);
        }
        a.is_string = true;
        out.name = a;
        out.name_form = sql ? NameForm::kSql : NameForm::kText;
      } else if (parse_arg(spec, val, vpos, false, &a)) {
        a.is_string = true; // a name is text
        out.name = a;
      } else {
        out.literal_name = val;
      }
    } else if (key == "id") {
      ArgRef a;
      if (!parse_arg(spec, val, vpos, false, &a) || a.from_end) {
        throw bad("--span", spec, "id must be argK (the same argument of both probes)", vpos,
                  kSpanSyntax);
      }
      out.id_arg = a.index;
    } else if (key.rfind("attr.", 0) == 0 && key.size() > 5) {
      ArgRef a;
      if (!parse_arg(spec, val, vpos, true, &a)) {
        throw bad("--span", spec, "expected argM, end.argM or str(argM)", vpos, kSpanSyntax);
      }
      if (out.attrs.size() >= 4) {
        throw bad("--span", spec, "at most 4 attributes", pos, kSpanSyntax);
      }
      out.attrs.emplace_back(key.substr(5), a);
    } else {
      throw bad("--span", spec, "unknown key '" + key + "'", pos, kSpanSyntax);
    }
  }
  return out;
}

} // namespace kernspan::probe
