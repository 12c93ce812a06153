// SPDX-License-Identifier: Apache-2.0
#include "exporters/endpoints.hpp"

#include <algorithm>
#include <charconv>
#include <netdb.h>
#include <sys/socket.h>

namespace kernspan::exporters {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return s;
}

} // namespace

ListenAddress parse_listen_address(const std::string &spec) {
  ListenAddress a;
  std::string port = spec;
  if (!spec.empty() && spec.front() == '[') {
    const size_t close = spec.find("]:");
    if (close == std::string::npos) {
      throw ListenError("bad listen address '" + spec + "': use [ADDR]:PORT for IPv6");
    }
    a.host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
  } else if (const size_t colon = spec.rfind(':'); colon != std::string::npos) {
    a.host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
    if (a.host.empty() || a.host.find(':') != std::string::npos) {
      throw ListenError("bad listen address '" + spec + "': use [ADDR:]PORT");
    }
  }
  const auto res = std::from_chars(port.data(), port.data() + port.size(), a.port);
  if (port.empty() || res.ec != std::errc{} || res.ptr != port.data() + port.size() || a.port < 0 ||
      a.port > 65535) {
    throw ListenError("bad listen address '" + spec + "': port must be 0-65535");
  }
  return a;
}

std::string HttpEndpoint::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string HttpEndpoint::url() const {
  return origin() + path;
}

HttpEndpoint parse_http_endpoint(const std::string &url, const std::string &default_path) {
  const auto bad = [&](const std::string &why) {
    return EndpointError("bad URL '" + url + "': " + why);
  };
  HttpEndpoint e;
  const size_t sep = url.find("://");
  if (sep == std::string::npos) {
    throw bad("expected http://HOST[:PORT][/PATH]");
  }
  e.scheme = lower(url.substr(0, sep));
  if (e.scheme != "http" && e.scheme != "https") {
    throw bad("scheme must be http or https");
  }
  std::string rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  e.path = slash == std::string::npos ? "" : rest.substr(slash);
  if (e.path.empty() || e.path == "/") {
    e.path = default_path;
  }
  if (authority.find('@') != std::string::npos) {
    throw bad("credentials in the URL are not supported");
  }
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) {
      throw bad("unclosed '[' in host");
    }
    e.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      throw bad("unexpected text after ']'");
    }
    port = after.empty() ? "" : after.substr(1);
  } else {
    const size_t colon = authority.find(':');
    e.host = authority.substr(0, colon);
    port = colon == std::string::npos ? "" : authority.substr(colon + 1);
    if (colon != std::string::npos && port.empty()) {
      throw bad("empty port");
    }
  }
  if (e.host.empty() || e.host.find_first_of(" \t\r\n?#%") != std::string::npos) {
    throw bad("missing or invalid host");
  }
  if (port.empty()) {
    e.port = e.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
      throw bad("port must be a number 1-65535");
    }
    e.port = std::stoi(port);
    if (e.port < 1 || e.port > 65535) {
      throw bad("port must be a number 1-65535");
    }
  }
  if (e.path.find_first_of(" \t\r\n") != std::string::npos) {
    throw bad("whitespace in path");
  }
  return e;
}

void require_resolvable(const HttpEndpoint &e) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *res = nullptr;
  const int rc = getaddrinfo(e.host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    throw EndpointError("cannot resolve host '" + e.host + "' of " + e.url() + ": " +
                        gai_strerror(rc));
  }
  freeaddrinfo(res);
}

} // namespace kernspan::exporters
