// SPDX-License-Identifier: Apache-2.0
// kernspan list: the USDT probes a process or a binary offers.
#include "cli/commands.hpp"
#include "cli/functions.hpp"
#include "probe/error.hpp"
#include "probe/proc_maps.hpp"
#include "probe/usdt.hpp"

#include <cstdio>
#include <memory>

namespace kernspan::cli {
namespace {

struct ListOptions {
  pid_t pid = 0;
  std::string binary;
  std::string provider;
  std::string functions; // --functions [OBJECT:]PATTERN
  bool raw_entry = false;
};

std::string hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof(b), "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

void print_probes(const std::vector<probe::ObjectProbes> &objs) {
  std::printf("%-40s %-12s %-20s %-10s %-6s %s\n", "OBJECT", "PROVIDER", "NAME", "SEMAPHORE",
              "SITE", "ARGUMENTS");
  for (const auto &o : objs) {
    for (const auto &p : o.probes) {
      const std::string site = p.site_bytes != 0 ? "nop" + std::to_string(p.site_bytes) : "?";
      std::printf("%-40s %-12s %-20s %-10s %-6s %s\n", o.object.c_str(), p.provider.c_str(),
                  p.name.c_str(), p.semaphore != 0 ? hex(p.semaphore).c_str() : "-", site.c_str(),
                  p.args.empty() ? "-" : p.args.c_str());
    }
  }
}

// Functions matching --functions, with the placement each entry probe gets.
int run_list_functions(const ListOptions &o) {
  std::vector<ObjectFunctions> found;
  const bool has_object =
      o.functions.find(':') != std::string::npos && o.functions.find("::") != o.functions.find(':');
  if (has_object || !o.binary.empty()) {
    probe::UprobeSpec spec;
    if (has_object) {
      spec = probe::parse_uprobe_spec(o.functions);
    } else {
      spec.object = o.binary;
      spec.pattern = o.functions;
    }
    found.push_back(find_spec_functions(o.binary.empty() ? o.pid : 0, spec, o.raw_entry));
  } else {
    require_process(o.pid);
    for (const auto &obj : probe::mapped_objects(o.pid)) {
      probe::UprobeSpec spec{obj, o.functions, 0};
      try {
        found.push_back(find_spec_functions(o.pid, spec, o.raw_entry));
      } catch (const probe::ProbeError &) {
        continue; // no match in this object
      }
    }
    if (found.empty()) {
      print_error("pattern '" + o.functions + "' matches no function in any object of PID " +
                  std::to_string(o.pid));
      return 1;
    }
  }
  std::printf("%-40s %-18s %-14s %-48s %s\n", "OBJECT", "ADDRESS", "SYMBOLS", "PLACEMENT",
              "FUNCTION");
  for (const auto &obj : found) {
    for (const auto &fn : obj.functions) {
      std::printf("%-40s %-18s %-14s %-48s %s\n", obj.object.c_str(), hex(fn.addr).c_str(),
                  fn.source().c_str(), fn.placement.describe().c_str(), fn.demangled.c_str());
    }
  }
  return 0;
}

int run_list(const ListOptions &o) {
  if (!o.functions.empty()) {
    return run_list_functions(o);
  }
  std::vector<probe::ObjectProbes> objs;
  std::vector<std::string> searched;
  if (!o.binary.empty()) {
    probe::ObjectProbes op;
    op.object = o.binary;
    op.open_path = o.binary;
    for (auto &p : probe::read_usdt_probes(o.binary)) {
      if (o.provider.empty() || p.provider == o.provider) {
        op.probes.push_back(std::move(p));
      }
    }
    searched.push_back(o.binary);
    if (!op.probes.empty()) {
      objs.push_back(std::move(op));
    }
  } else {
    require_process(o.pid);
    objs = probe::find_process_usdt(o.pid, o.provider, &searched);
  }
  if (objs.empty()) {
    std::string msg = "no USDT probes" + (o.provider.empty() ? "" : " of provider " + o.provider) +
                      " found; searched " + std::to_string(searched.size()) + " object(s): ";
    for (size_t i = 0; i < searched.size() && i < 8; i++) {
      msg += (i != 0 ? ", " : "") + searched[i];
    }
    if (searched.size() > 8) {
      msg += ", ...";
    }
    print_error(msg);
    return 1;
  }
  print_probes(objs);
  return 0;
}

} // namespace

void require_process(pid_t pid) {
  if (pid <= 0) {
    throw probe::ProbeError("PID must be a positive number");
  }
  if (!probe::process_alive(pid)) {
    throw probe::ProbeError("no process with PID " + std::to_string(pid) +
                            ": check the PID (ps -p " + std::to_string(pid) + ")");
  }
}

Runner add_list(CLI::App &app) {
  auto opts = std::make_shared<ListOptions>();
  auto *cmd = app.add_subcommand("list", "list the USDT probes of a process or a binary");
  auto *p = cmd->add_option("-p,--pid", opts->pid, "process to inspect (all mapped objects)");
  auto *b = cmd->add_option("--binary", opts->binary, "ELF file to inspect");
  p->excludes(b);
  cmd->add_option("--provider", opts->provider, "only this provider (e.g. kernspan)");
  cmd->add_option("--functions", opts->functions,
                  "list the functions matching [OBJECT:]PATTERN (glob over raw and demangled "
                  "names) and where each entry uprobe would go, instead of USDT probes");
  cmd->add_flag("--raw-entry", opts->raw_entry,
                "show the placement without skipping a leading endbr64");
  cmd->callback([cmd, p, b] {
    if (p->count() == 0 && b->count() == 0) {
      throw CLI::RequiredError("list needs -p PID or --binary PATH");
    }
    (void)cmd;
  });
  return [opts](const Globals &) { return run_list(*opts); };
}

} // namespace kernspan::cli
