// SPDX-License-Identifier: Apache-2.0
#include "collect/libbpf_log.hpp"

#include <algorithm>
#include <bpf/libbpf.h>
#include <cstdarg>
#include <cstdio>
#include <spdlog/spdlog.h>
#include <string>

namespace kernspan::collect {
namespace {

bool g_verbose = false;
bool g_quiet_libbpf = false;

int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (g_quiet_libbpf || (level == LIBBPF_DEBUG && !g_verbose)) {
    return 0;
  }
  char buf[1024];
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string s(buf, n > 0 ? std::min(static_cast<size_t>(n), sizeof(buf) - 1) : 0);
  while (!s.empty() && s.back() == '\n') {
    s.pop_back();
  }
  switch (level) {
  case LIBBPF_WARN:
    spdlog::warn("libbpf: {}", s);
    break;
  case LIBBPF_INFO:
    spdlog::info("libbpf: {}", s);
    break;
  default:
    spdlog::debug("libbpf: {}", s);
    break;
  }
  return 0;
}

} // namespace

void install_libbpf_log(bool verbose) {
  g_verbose = verbose;
  libbpf_set_print(libbpf_log);
}

bool libbpf_verbose() {
  return g_verbose;
}

void set_libbpf_quiet(bool quiet) {
  g_quiet_libbpf = quiet;
}

} // namespace kernspan::collect
