// SPDX-License-Identifier: Apache-2.0
#include "cli/follow.hpp"

#include "cli/functions.hpp"
#include "cli/pipeline.hpp"
#include "probe/error.hpp"
#include "probe/proc_maps.hpp"
#include "probe/proc_stats.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

namespace kernspan::cli {
namespace {

constexpr const char *kProvider = "kernspan";

bool is_span_probe(const std::string &name) {
  return name == "span_begin" || name == "span_begin_remote" || name == "span_end";
}

std::string basename_of(const std::string &path) {
  return path.substr(path.rfind('/') + 1);
}

// Span names are string literals in the object's read-only segment, read by
// the BPF programs at each span's end; a page the process never touched is
// not mapped, and that read fails. A library just loaded has touched almost
// none: read its read-only pages once through the process (which maps them
// into it, as its own reads would), up to 16 MiB.
void map_readonly_pages(pid_t pid, const std::string &object) {
  std::vector<probe::Mapping> maps;
  try {
    maps = probe::read_maps(pid);
  } catch (const probe::ProbeError &) {
    return;
  }
  std::vector<char> buf(64 << 10);
  uint64_t budget = 16u << 20;
  for (const auto &m : maps) {
    if (m.path != object || m.perms.compare(0, 3, "r--") != 0) {
      continue;
    }
    for (uint64_t a = m.start; a < m.end && budget > 0;) {
      const uint64_t n = std::min<uint64_t>({m.end - a, buf.size(), budget});
      iovec local{buf.data(), n};
      iovec remote{std::bit_cast<void *>(static_cast<uintptr_t>(a)), n};
      if (process_vm_readv(pid, &local, 1, &remote, 1, 0) <= 0) {
        break;
      }
      a += n;
      budget -= n;
    }
  }
}

} // namespace

std::vector<collect::UsdtAttach> span_probe_attaches(pid_t pid, const std::string &open_path,
                                                     const std::vector<probe::UsdtProbe> &probes) {
  // probe name -> do all its sites pass arguments in the pinned registers
  // (and are their file offsets known, for a multi-uprobe link)?
  std::map<std::string, bool> names;
  std::map<std::string, collect::UsdtAttach> sites;
  for (const auto &p : probes) {
    if (p.provider != kProvider || !is_span_probe(p.name)) {
      continue;
    }
    const bool regs = p.args == (p.name == "span_begin_remote" ? "8@%rdi 8@%rsi" : "8@%rdi") &&
                      p.site_offset != 0 && (p.semaphore == 0 || p.semaphore_offset != 0);
    auto [it, fresh] = names.emplace(p.name, regs);
    it->second = it->second && regs;
    auto &a = sites[p.name];
    a.site_offsets.push_back(p.site_offset);
    a.semaphore_offsets.push_back(p.semaphore_offset);
  }
  std::vector<collect::UsdtAttach> out;
  out.reserve(names.size());
  for (const auto &[n, regs] : names) {
    collect::UsdtAttach a{pid, open_path, kProvider, n, regs, "", 0, {}, {}};
    if (regs) {
      a.site_offsets = std::move(sites[n].site_offsets);
      a.semaphore_offsets = std::move(sites[n].semaphore_offsets);
    }
    out.push_back(std::move(a));
  }
  return out;
}

CLI::Option *add_follow_options(CLI::App &cmd, PipelineOptions &o) {
  cmd.add_flag("--follow-children", o.follow_children,
               "trace the processes the target forks too, and theirs, also after they exec "
               "another program (whose kernspan probes are attached when seen); the trace "
               "ends when all of them have exited. Probes are then attached for every process "
               "mapping the object, filtered by process in the kernel: other processes running "
               "the same code take the breakpoint but record nothing");
  return cmd
      .add_option("--binary", o.binary,
                  "instead of -p: trace every process running the executable PATH, those "
                  "running now and those started later (and their forks), until Ctrl-C or -d")
      ->type_name("PATH");
}

bool following(const PipelineOptions &o) {
  return o.follow_children || !o.binary.empty();
}

void resolve_binary(PipelineOptions &o) {
  char real[PATH_MAX];
  struct stat st {};
  if (realpath(o.binary.c_str(), real) == nullptr || stat(real, &st) != 0) {
    throw probe::ProbeError("cannot find --binary " + o.binary + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw probe::ProbeError("--binary " + o.binary + " is not a regular file");
  }
  o.binary = real;
  size_t hidden = 0;
  o.pids = probe::processes_running(o.binary, &hidden);
  if (hidden != 0) {
    spdlog::warn("{} process(es) of other users could not be inspected for --binary {}: without "
                 "root or CAP_SYS_PTRACE those running it now are not traced",
                 hidden, o.binary);
  }
  for (auto &text : o.functions.specs) {
    const auto spec = probe::parse_uprobe_spec(text);
    if (spec.object.find('/') == std::string::npos &&
        probe::object_name_matches(o.binary, spec.object) &&
        text.compare(0, spec.object.size(), spec.object) == 0) {
      text = o.binary + text.substr(spec.object.size());
    }
  }
  if (o.sinks.service.empty()) {
    o.sinks.service = basename_of(o.binary);
  }
}

std::vector<probe::UprobeSpec> take_waiting_specs(PipelineOptions &o) {
  std::vector<probe::UprobeSpec> waiting;
  std::vector<std::string> now;
  const pid_t pid = o.pids.empty() ? 0 : o.pids[0];
  const auto objects = pid > 0 ? probe::mapped_objects(pid) : std::vector<std::string>{};
  for (const auto &text : o.functions.specs) {
    auto spec = probe::parse_uprobe_spec(text);
    bool mapped = spec.object.find('/') != std::string::npos;
    for (const auto &obj : objects) {
      mapped = mapped || probe::object_name_matches(obj, spec.object);
    }
    if (mapped) {
      now.push_back(text);
    } else {
      waiting.push_back(std::move(spec));
    }
  }
  o.functions.specs = std::move(now);
  return waiting;
}

void plan_binary_file(const PipelineOptions &o, collect::Plan &plan, size_t *objects,
                      bool waiting) {
  if (!o.spans.empty() || !o.usdts.empty()) {
    throw probe::ProbeError("--span and --usdt with --binary need a process running " + o.binary +
                            " when kernspan starts");
  }
  const auto usdt = span_probe_attaches(-1, o.binary, probe::read_usdt_probes(o.binary));
  plan.usdt.insert(plan.usdt.end(), usdt.begin(), usdt.end());
  *objects += usdt.empty() ? 0 : 1;
  *objects += plan_functions(o.functions, -1, plan).size();
  if (plan.usdt.empty() && plan.uprobes.empty() && !waiting) {
    throw probe::ProbeError(o.binary +
                            " has no kernspan USDT probes and no --uprobe names it; mark spans "
                            "with <kernspan/kernspan.h> and rebuild it");
  }
}

void apply_following(const PipelineOptions &o, collect::Plan &plan) {
  if (!following(o)) {
    return;
  }
  // A forked child shares the parent's objects, but a uprobe attached for
  // one process filters by its mm: the child's hits would be dropped by the
  // kernel (and its breakpoints removed). Attached for every process
  // mapping the object, the BPF programs filter by tgid instead.
  for (auto &u : plan.usdt) {
    u.pid = -1;
  }
  for (auto &u : plan.uprobes) {
    u.pid = -1;
    if (u.object.find(".so") != std::string::npos) {
      std::fprintf(stderr,
                   "kernspan: note: following, the %zu --uprobe function(s) in %s are attached "
                   "for every process mapping it (the others take the breakpoints too)\n",
                   u.sites.size(), u.object.c_str());
    }
  }
  plan.follow.children = true; // a fork of a --binary process runs it too
  plan.follow.keep_on_exec = o.follow_children;
  if (!o.binary.empty()) {
    struct stat st {};
    if (stat(o.binary.c_str(), &st) != 0) {
      throw probe::ProbeError("cannot stat " + o.binary + ": " + std::strerror(errno));
    }
    plan.follow.exe_ino = st.st_ino;
    // The kernel's dev_t (MKDEV: 12-bit major above a 20-bit minor).
    plan.follow.exe_dev = (major(st.st_dev) << 20) | minor(st.st_dev);
    plan.follow.until_stopped = true;
  }
}

Follower::Follower(bool dynamic, uint32_t max_probes, bool raw_entry,
                   std::vector<probe::UprobeSpec> waiting,
                   const std::vector<std::pair<pid_t, std::string>> &searched, bool wait_forever)
    : dynamic_(dynamic), wait_forever_(wait_forever), max_probes_(max_probes),
      raw_entry_(raw_entry), waiting_(std::move(waiting)) {
  for (const auto &[pid, obj] : searched) {
    seen_.emplace(dynamic_ ? 0 : pid, obj);
  }
}

void Follower::announce() {
  started_ = std::chrono::steady_clock::now();
  const std::string limit = wait_forever_ ? ""
                                          : "; an error if no traced process maps it within " +
                                                std::to_string(kWaitLimit.count()) + " s";
  for (const auto &s : waiting_) {
    std::fprintf(stderr, "kernspan: waiting for %s to be loaded (--uprobe %s:%s)%s\n",
                 s.object.c_str(), s.object.c_str(), s.pattern.c_str(), limit.c_str());
  }
}

void Follower::check_waiting(collect::Collector &c) {
  if (wait_forever_ || !failure_.empty() || waiting_.empty() ||
      std::chrono::steady_clock::now() - started_ < kWaitLimit) {
    return;
  }
  for (const auto &s : waiting_) {
    if (matched_.count(s.object) != 0) {
      continue;
    }
    std::vector<std::string> objects;
    std::string who;
    const auto pids = c.traced();
    for (const pid_t pid : pids) {
      who += (who.empty() ? "" : ", ") + std::to_string(pid);
      try {
        const auto mapped = probe::mapped_objects(pid);
        objects.insert(objects.end(), mapped.begin(), mapped.end());
      } catch (const probe::ProbeError &) {
        // exited meanwhile
      }
    }
    std::string nearest;
    for (const auto &n : probe::nearest_objects(objects, s.object)) {
      nearest += (nearest.empty() ? "" : ", ") + n;
    }
    failure_ = "--uprobe " + s.object + ":" + s.pattern + ": nothing named " + s.object +
               " has been mapped by " + (pids.size() == 1 ? "PID " : "PIDs ") + who + " in " +
               std::to_string(kWaitLimit.count()) + " s" +
               (nearest.empty() ? "" : "; nearest in its maps: " + nearest) +
               " (check the library name, or give its path)";
    c.request_stop();
    return;
  }
}

void Follower::rescan(collect::Collector &c) {
  for (const pid_t pid : c.traced()) {
    std::vector<std::string> objects;
    try {
      objects = probe::mapped_objects(pid);
    } catch (const probe::ProbeError &) {
      continue; // exited meanwhile
    }
    for (const auto &obj : objects) {
      if (seen_.emplace(dynamic_ ? 0 : pid, obj).second) {
        consider(c, pid, obj);
      }
    }
  }
  check_waiting(c);
}

void Follower::consider(collect::Collector &c, pid_t pid, const std::string &object) {
  const pid_t attach_pid = dynamic_ ? -1 : pid;
  const std::string open_path = probe::host_path(pid, object);
  collect::Plan more;
  try {
    more.usdt = span_probe_attaches(attach_pid, open_path, probe::read_usdt_probes(open_path));
  } catch (const probe::ProbeError &) {
    // not ELF, or gone: no USDT probes; function specs report their own error
  }
  collect::UprobeAttach fns{attach_pid, open_path, {}};
  std::set<uint64_t> offsets;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (!probe::object_name_matches(object, it->object)) {
      ++it;
      continue;
    }
    matched_.insert(it->object);
    probe::UprobeSpec spec = *it;
    spec.object = object;
    try {
      const auto found = find_spec_functions(pid, spec, raw_entry_);
      functions_ += found.functions.size();
      if (functions_ > max_probes_) {
        throw probe::ProbeError("more than --max-probes " + std::to_string(max_probes_) +
                                " functions in all");
      }
      for (const auto &fn : found.functions) {
        const uint64_t offset = fn.file_offset + fn.placement.skip;
        if (!offsets.insert(offset).second) {
          continue;
        }
        const auto id = static_cast<uint32_t>(more.functions.size());
        more.functions.push_back({fn.demangled, spec.nargs});
        fns.sites.push_back({offset, id, spec.nargs});
      }
    } catch (const probe::ProbeError &e) {
      std::fprintf(stderr, "kernspan: --uprobe %s:%s in %s (PID %d): %s\n", it->object.c_str(),
                   it->pattern.c_str(), object.c_str(), pid, e.what());
    }
    // Attached for every process mapping it (dynamic), or looked at for
    // this process: per process, the same object is never considered twice.
    it = dynamic_ ? waiting_.erase(it) : std::next(it);
  }
  if (!fns.sites.empty()) {
    more.uprobes.push_back(std::move(fns));
  }
  if (more.usdt.empty() && more.uprobes.empty()) {
    return;
  }
  if (!more.usdt.empty()) {
    map_readonly_pages(pid, object);
  }
  try {
    c.attach_more(more);
  } catch (const collect::CollectError &e) {
    std::fprintf(stderr, "kernspan: cannot attach the probes of %s (PID %d): %s\n", object.c_str(),
                 pid, e.what());
    return;
  }
  const size_t sites = more.uprobes.empty() ? 0 : more.uprobes[0].sites.size();
  std::fprintf(stderr,
               "kernspan: attached %zu span probe(s) and %zu function(s) in %s, mapped later by "
               "PID %d\n",
               more.usdt.size(), sites, object.c_str(), pid);
}

} // namespace kernspan::cli
