// SPDX-License-Identifier: Apache-2.0
#include "probe/proc_stats.hpp"

#include "probe/error.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <linux/capability.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace kernspan::probe {
namespace {

std::string read_text(const std::string &path) {
  std::ifstream f(path);
  return {std::istreambuf_iterator<char>(f), {}};
}

uint64_t ticks_to_ns(uint64_t ticks, long per_second) {
  return per_second > 0 ? ticks * (1'000'000'000ULL / static_cast<uint64_t>(per_second)) : 0;
}

} // namespace

bool parse_proc_stat(const std::string &text, long ticks_per_second, core::ProcessUsage &out,
                     uint64_t page_size) {
  const size_t close = text.rfind(')');
  if (close == std::string::npos) {
    return false;
  }
  // After ')': field 3 (state) onwards.
  std::istringstream in(text.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; in >> f;) {
    fields.push_back(f);
  }
  constexpr size_t kFirst = 3; // fields[0] is field 3
  const auto field = [&](size_t n) {
    return std::strtoull(fields[n - kFirst].c_str(), nullptr, 10);
  };
  if (fields.size() < 42 - kFirst + 1) {
    return false;
  }
  out.user_ns = ticks_to_ns(field(14), ticks_per_second);
  out.system_ns = ticks_to_ns(field(15), ticks_per_second);
  out.blkio_ns = ticks_to_ns(field(42), ticks_per_second);
  out.rss_bytes = field(24) * page_size;
  return true;
}

std::optional<std::string> parse_cgroup_v2_path(const std::string &text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0 && line.size() > 3) {
      return line.substr(3);
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_memory_max(const std::string &text) {
  if (text.empty() || text[0] < '0' || text[0] > '9') {
    return std::nullopt; // "max", or nothing read
  }
  char *end = nullptr;
  const uint64_t v = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str() || (*end != '\0' && *end != '\n')) {
    return std::nullopt;
  }
  return v;
}

std::optional<uint64_t> parse_meminfo_total(const std::string &text) {
  std::istringstream in(text);
  for (std::string key, value, unit; in >> key >> value;) {
    if (key == "MemTotal:") {
      in >> unit;
      return std::strtoull(value.c_str(), nullptr, 10) * (unit == "kB" ? 1024 : 1);
    }
    std::getline(in, unit); // the rest of the line
  }
  return std::nullopt;
}

namespace {

// The memory.max nearest to the process on the way up its cgroup path
// (a parent's limit bounds the children), else MemTotal.
uint64_t memory_limit(const std::string &proc) {
  if (auto path = parse_cgroup_v2_path(read_text(proc + "/cgroup"))) {
    for (std::string p = *path; !p.empty();) {
      if (const auto max = parse_memory_max(read_text("/sys/fs/cgroup" + p + "/memory.max"))) {
        return *max;
      }
      const size_t slash = p.rfind('/');
      if (slash == std::string::npos || p == "/") {
        break;
      }
      p = slash == 0 ? "/" : p.substr(0, slash);
    }
  }
  return parse_meminfo_total(read_text("/proc/meminfo")).value_or(0);
}

} // namespace

bool parse_proc_io(const std::string &text, core::ProcessUsage &out) {
  std::istringstream in(text);
  bool read = false;
  bool write = false;
  for (std::string key, value; in >> key >> value;) {
    if (key == "read_bytes:") {
      out.read_bytes = std::strtoull(value.c_str(), nullptr, 10);
      read = true;
    } else if (key == "write_bytes:") {
      out.write_bytes = std::strtoull(value.c_str(), nullptr, 10);
      write = true;
    }
  }
  return read && write;
}

std::optional<uint64_t> parse_schedstat_wait(const std::string &text) {
  std::istringstream in(text);
  uint64_t on_cpu = 0;
  uint64_t waiting = 0;
  if (in >> on_cpu >> waiting) {
    return waiting;
  }
  return std::nullopt;
}

std::optional<core::ProcessUsage> read_process_usage(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  core::ProcessUsage u;
  u.pid = static_cast<uint32_t>(pid);
  const long page = sysconf(_SC_PAGESIZE);
  if (!parse_proc_stat(read_text(proc + "/stat"), sysconf(_SC_CLK_TCK), u,
                       page > 0 ? static_cast<uint64_t>(page) : 4096)) {
    return std::nullopt;
  }
  u.memory_limit_bytes = memory_limit(proc);
  u.io_known = parse_proc_io(read_text(proc + "/io"), u);
  if (DIR *d = opendir((proc + "/task").c_str())) {
    while (const dirent *e = readdir(d)) {
      if (e->d_name[0] == '.') {
        continue;
      }
      if (const auto w =
              parse_schedstat_wait(read_text(proc + "/task/" + e->d_name + "/schedstat"))) {
        u.runqueue_ns += *w;
      }
    }
    closedir(d);
  }
  return u;
}

std::optional<uint64_t> effective_capabilities() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, 2> data{};
  if (syscall(SYS_capget, &hdr, data.data()) != 0) {
    return std::nullopt;
  }
  return (uint64_t{data[1].effective} << 32) | data[0].effective;
}

std::vector<pid_t> processes_running(const std::string &path, size_t *hidden) {
  // With CAP_SYS_PTRACE, what still refuses is not ours to see (e.g. a
  // process of another user namespace): not worth a warning.
  const auto caps = effective_capabilities();
  if (hidden != nullptr && caps && has_capability(*caps, CAP_SYS_PTRACE)) {
    hidden = nullptr;
  }
  struct stat want {};
  if (stat(path.c_str(), &want) != 0) {
    throw ProbeError("cannot find " + path + ": " + std::strerror(errno));
  }
  std::vector<pid_t> out;
  DIR *d = opendir("/proc");
  if (d == nullptr) {
    throw ProbeError(std::string("cannot list /proc: ") + std::strerror(errno));
  }
  while (const dirent *e = readdir(d)) {
    const char *name = e->d_name;
    if (name[0] < '1' || name[0] > '9') {
      continue;
    }
    struct stat got {};
    if (stat((std::string("/proc/") + name + "/exe").c_str(), &got) != 0) {
      if ((errno == EACCES || errno == EPERM) && hidden != nullptr) {
        ++*hidden; // another user's process, without CAP_SYS_PTRACE
      }
      continue;
    }
    if (got.st_dev == want.st_dev && got.st_ino == want.st_ino) {
      out.push_back(static_cast<pid_t>(std::atoi(name)));
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace kernspan::probe
