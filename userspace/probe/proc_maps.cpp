// SPDX-License-Identifier: Apache-2.0
#include "probe/proc_maps.hpp"

#include "probe/error.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace kernspan::probe {

std::vector<Mapping> parse_maps(const std::string &text) {
  std::vector<Mapping> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    // start-end perms offset dev inode [path]
    Mapping m;
    std::istringstream ls(line);
    std::string range;
    std::string dev;
    if (!(ls >> range >> m.perms >> std::hex >> m.offset >> dev >> std::dec >> m.inode)) {
      continue;
    }
    // Both ends whole hex numbers, the start below the end; anything else
    // is not a mapping and is skipped.
    const auto dash = range.find('-');
    if (dash == std::string::npos) {
      continue;
    }
    const char *lo = range.data();
    const char *hi = range.data() + range.size();
    const auto a = std::from_chars(lo, lo + dash, m.start, 16);
    const auto b = std::from_chars(lo + dash + 1, hi, m.end, 16);
    if (a.ec != std::errc() || a.ptr != lo + dash || b.ec != std::errc() || b.ptr != hi ||
        m.start >= m.end) {
      continue;
    }
    std::string rest;
    std::getline(ls, rest);
    const auto first = rest.find_first_not_of(' ');
    m.path = first == std::string::npos ? "" : rest.substr(first);
    out.push_back(std::move(m));
  }
  return out;
}

static std::string read_file(const std::string &path) {
  std::ifstream f(path);
  if (!f) {
    return {};
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<Mapping> read_maps(pid_t pid) {
  const std::string p = "/proc/" + std::to_string(pid) + "/maps";
  std::ifstream f(p);
  if (!f) {
    if (errno == EACCES) {
      throw ProbeError("cannot read " + p + ": permission denied (run as root)");
    }
    throw ProbeError("no process with PID " + std::to_string(pid) + ": check the PID (ps -p " +
                     std::to_string(pid) + ")");
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_maps(ss.str());
}

std::vector<std::string> mapped_objects(pid_t pid) {
  std::vector<std::string> out;
  const std::string exe = exe_path(pid);
  for (const auto &m : read_maps(pid)) {
    if (m.path.empty() || m.path[0] != '/' || m.inode == 0) {
      continue; // anonymous, [vdso], [heap], ...
    }
    if (m.perms.find('x') == std::string::npos) {
      continue; // probes live in code: skip data files (locales, caches)
    }
    if (m.path.find(" (deleted)") != std::string::npos) {
      continue;
    }
    if (std::find(out.begin(), out.end(), m.path) == out.end()) {
      out.push_back(m.path);
    }
  }
  // The executable first: its probes are the ones users expect to see first.
  auto it = std::find(out.begin(), out.end(), exe);
  if (it != out.end()) {
    std::rotate(out.begin(), it, it + 1);
  }
  return out;
}

std::string host_path(pid_t pid, const std::string &path) {
  struct stat ours {};
  struct stat theirs {};
  std::string via_root = "/proc/" + std::to_string(pid) + "/root" + path;
  if (stat(path.c_str(), &ours) == 0 && stat(via_root.c_str(), &theirs) == 0 &&
      ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino) {
    return path;
  }
  if (stat(via_root.c_str(), &theirs) == 0) {
    return via_root; // another mount namespace (a container)
  }
  return path;
}

std::string exe_path(pid_t pid) {
  char buf[4096];
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  const ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) {
    return {};
  }
  std::string s(buf, static_cast<size_t>(n));
  const std::string deleted = " (deleted)";
  if (s.size() > deleted.size() &&
      s.compare(s.size() - deleted.size(), deleted.size(), deleted) == 0) {
    s.resize(s.size() - deleted.size());
  }
  return s;
}

std::string comm(pid_t pid) {
  std::string c = read_file("/proc/" + std::to_string(pid) + "/comm");
  while (!c.empty() && (c.back() == '\n' || c.back() == '\0')) {
    c.pop_back();
  }
  return c;
}

bool process_alive(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) {
    return false;
  }
  // state is the field after the last ')' (comm may hold spaces and parens)
  const auto rp = stat.rfind(')');
  if (rp == std::string::npos || rp + 2 >= stat.size()) {
    return false;
  }
  const char state = stat[rp + 2];
  return state != 'Z' && state != 'X';
}

} // namespace kernspan::probe
