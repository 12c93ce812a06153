// SPDX-License-Identifier: Apache-2.0
#include "exporters/net_plugin.hpp"

#include <dlfcn.h>
#include <limits.h>
#include <mutex>
#include <stdexcept>
#include <unistd.h>
#include <vector>

namespace kernspan::exporters {
namespace {

std::string exe_dir() {
  std::vector<char> buf(PATH_MAX + 1, '\0');
  const ssize_t n = readlink("/proc/self/exe", buf.data(), PATH_MAX);
  if (n <= 0) {
    return ".";
  }
  std::string path(buf.data(), static_cast<size_t>(n));
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

const NetApi *load() {
  const std::string dir = exe_dir();
  std::string tried;
  std::string error;
  for (const std::string &path : {dir + "/" + kNetModule, dir + "/../lib/kernspan/" + kNetModule}) {
    if (access(path.c_str(), F_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char *why = dlerror();
      throw std::runtime_error("cannot load the network exporters (" + path + "): " +
                               (why != nullptr ? why : "unknown error") + "; reinstall kernspan");
    }
    using Entry = const NetApi *(*)();
    auto entry = reinterpret_cast<Entry>(dlsym(h, "kernspan_net_api"));
    const NetApi *api = entry != nullptr ? entry() : nullptr;
    if (api == nullptr || api->abi != kNetAbi) {
      throw std::runtime_error(path + " does not match this kernspan binary; reinstall kernspan");
    }
    return api;
  }
  throw std::runtime_error("the network exporters are not installed (looked for " + tried +
                           "); reinstall kernspan, or trace without --prometheus, --otlp "
                           "and --zipkin");
}

} // namespace

const NetApi &net_api() {
  static std::once_flag once;
  static const NetApi *api = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    try {
      api = load();
    } catch (const std::exception &e) {
      failure = e.what();
    }
  });
  if (api == nullptr) {
    throw std::runtime_error(failure);
  }
  return *api;
}

} // namespace kernspan::exporters
