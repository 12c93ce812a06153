// SPDX-License-Identifier: Apache-2.0
#include "cli/pairs.hpp"

#include "probe/error.hpp"
#include "probe/span_spec.hpp"
#include "probe/usdt.hpp"

#include <set>

namespace kernspan::cli {
namespace {

struct Site {
  std::string open_path;
  int nargs = 0;
};

// Every object that has the probe (once each), with its argument count.
std::vector<Site> sites_of(const std::vector<probe::ObjectProbes> &objs, const probe::ProbeRef &r) {
  std::vector<Site> out;
  for (const auto &o : objs) {
    for (const auto &p : o.probes) {
      if (p.provider == r.provider && p.name == r.name) {
        out.push_back({o.open_path, probe::usdt_arg_count(p.args)});
        break;
      }
    }
  }
  return out;
}

std::vector<Site> require_sites(const std::vector<probe::ObjectProbes> &objs,
                                const probe::ProbeRef &r, pid_t pid, size_t searched) {
  auto s = sites_of(objs, r);
  if (s.empty()) {
    throw probe::ProbeError("USDT probe " + r.str() + " not found in any of the " +
                            std::to_string(searched) + " objects of PID " + std::to_string(pid) +
                            " (kernspan list -p " + std::to_string(pid) + " shows them)");
  }
  return s;
}

void check_arg(const std::string &what, int index, const probe::ProbeRef &r,
               const std::vector<Site> &sites) {
  if (index < 0) {
    return;
  }
  for (const auto &s : sites) {
    if (index >= s.nargs) {
      throw probe::ProbeError(what + ": arg" + std::to_string(index) +
                              " is out of range: " + r.str() + " has " + std::to_string(s.nargs) +
                              " argument(s) (arg0..arg" + std::to_string(s.nargs - 1) + ")");
    }
  }
}

} // namespace

size_t plan_pairs(const std::vector<std::string> &spans, const std::vector<std::string> &usdts,
                  pid_t pid, collect::Plan &plan) {
  if (spans.empty() && usdts.empty()) {
    return 0;
  }
  std::vector<std::string> searched;
  const auto objs = probe::find_process_usdt(pid, "", &searched);
  std::set<std::string> used;
  for (const auto &text : spans) {
    const auto spec = probe::parse_span_spec(text);
    const auto b = require_sites(objs, spec.begin, pid, searched.size());
    const auto e = require_sites(objs, spec.end, pid, searched.size());
    const std::string what = "--span '" + text + "'";
    check_arg(what, spec.name.from_end ? -1 : spec.name.index, spec.begin, b);
    check_arg(what, spec.name.from_end ? spec.name.index : -1, spec.end, e);
    check_arg(what, spec.id_arg, spec.begin, b);
    check_arg(what, spec.id_arg, spec.end, e);
    for (const auto &[key, a] : spec.attrs) {
      check_arg(what, a.index, a.from_end ? spec.end : spec.begin, a.from_end ? e : b);
    }
    const auto id = static_cast<uint64_t>(plan.pairs.size());
    plan.pairs.push_back(spec);
    for (const auto &s : b) {
      plan.usdt.push_back({pid,
                           s.open_path,
                           spec.begin.provider,
                           spec.begin.name,
                           false,
                           "pair_begin",
                           id,
                           {},
                           {}});
      used.insert(s.open_path);
    }
    for (const auto &s : e) {
      plan.usdt.push_back(
          {pid, s.open_path, spec.end.provider, spec.end.name, false, "pair_end", id, {}, {}});
      used.insert(s.open_path);
    }
  }
  for (const auto &text : usdts) {
    const auto ref = probe::parse_probe_ref(text);
    const auto sites = require_sites(objs, ref, pid, searched.size());
    const auto idx = static_cast<uint64_t>(plan.counted.size());
    plan.counted.push_back(ref.str());
    for (const auto &s : sites) {
      plan.usdt.push_back(
          {pid, s.open_path, ref.provider, ref.name, false, "usdt_count", idx, {}, {}});
      used.insert(s.open_path);
    }
  }
  return used.size();
}

} // namespace kernspan::cli
