// SPDX-License-Identifier: Apache-2.0
// kernspan list: the USDT probes a process or a binary offers.
#include "cli/commands.hpp"
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

int run_list(const ListOptions &o) {
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
  cmd->callback([cmd, p, b] {
    if (p->count() == 0 && b->count() == 0) {
      throw CLI::RequiredError("list needs -p PID or --binary PATH");
    }
    (void)cmd;
  });
  return [opts](const Globals &) { return run_list(*opts); };
}

} // namespace kernspan::cli
