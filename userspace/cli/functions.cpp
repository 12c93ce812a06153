// SPDX-License-Identifier: Apache-2.0
#include "cli/functions.hpp"

#include "probe/error.hpp"

#include <algorithm>
#include <map>
#include <spdlog/spdlog.h>

namespace kernspan::cli {

ObjectFunctions find_spec_functions(pid_t pid, const probe::UprobeSpec &spec, bool raw_entry) {
  ObjectFunctions out;
  out.open_path = probe::resolve_object(pid, spec.object);
  const std::string root = pid > 0 ? "/proc/" + std::to_string(pid) + "/root" : "";
  out.object = !root.empty() && out.open_path.rfind(root, 0) == 0
                   ? out.open_path.substr(root.size())
                   : out.open_path;
  const auto all = probe::read_functions(out.open_path);
  out.functions = probe::match_functions(all, spec.pattern);
  if (out.functions.empty()) {
    if (!probe::has_glob(spec.pattern)) {
      std::string hint;
      for (const auto &n : probe::nearest_names(all, spec.pattern)) {
        hint += (hint.empty() ? "" : ", ") + n;
      }
      throw probe::ProbeError("no function '" + spec.pattern + "' in " + out.object + " (" +
                              std::to_string(all.size()) + " functions)" +
                              (hint.empty() ? "" : "; nearest: " + hint));
    }
    throw probe::ProbeError("pattern '" + spec.pattern + "' matches no function in " + out.object +
                            " (" + std::to_string(all.size()) + " functions searched)");
  }
  probe::place_entries(out.open_path, out.functions, !raw_entry);
  return out;
}

std::vector<ObjectFunctions> plan_functions(const FunctionOptions &o, pid_t pid,
                                            collect::Plan &plan) {
  std::vector<ObjectFunctions> used;
  std::map<std::string, size_t> attach_of; // open path -> index in plan.uprobes
  std::map<std::pair<std::string, uint64_t>, bool> seen;
  size_t total = 0;
  for (const auto &text : o.specs) {
    const auto spec = probe::parse_uprobe_spec(text);
    auto found = find_spec_functions(pid, spec, o.raw_entry);
    total += found.functions.size();
    if (total > o.max_probes) {
      throw probe::ProbeError(
          "--uprobe '" + text + "' matches " + std::to_string(found.functions.size()) +
          " functions in " + found.object + ", more than --max-probes " +
          std::to_string(o.max_probes) + " in all: narrow the pattern or raise --max-probes");
    }
    auto [it, fresh] = attach_of.try_emplace(found.open_path, plan.uprobes.size());
    if (fresh) {
      plan.uprobes.push_back({pid > 0 ? pid : -1, found.open_path, {}});
    }
    auto &attach = plan.uprobes[it->second];
    for (const auto &fn : found.functions) {
      const uint64_t offset = fn.file_offset + fn.placement.skip;
      if (!seen.emplace(std::make_pair(found.open_path, offset), true).second) {
        continue; // matched by an earlier spec
      }
      const auto id = static_cast<uint32_t>(plan.functions.size());
      plan.functions.push_back({fn.demangled, spec.nargs});
      attach.sites.push_back({offset, id, spec.nargs});
      spdlog::debug("uprobe {} in {} at offset {:#x}: {} [{}]", fn.demangled, found.object, offset,
                    fn.placement.describe(), fn.source());
    }
    used.push_back(std::move(found));
  }
  return used;
}

} // namespace kernspan::cli
