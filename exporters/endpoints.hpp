// SPDX-License-Identifier: Apache-2.0
// The addresses the network exporters take from the command line: parsed
// and checked here, with no HTTP library, so bad input fails before tracing
// starts and before the network exporters are loaded (net_plugin.hpp).
#pragma once

#include <stdexcept>
#include <string>

namespace kernspan::exporters {

// A URL or endpoint the user can fix; what() is one line.
class EndpointError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct HttpEndpoint {
  std::string scheme; // http or https
  std::string host;
  int port = 0;
  std::string path;                         // starts with '/'
  [[nodiscard]] std::string origin() const; // scheme://host:port
  [[nodiscard]] std::string url() const;    // origin + path
};

// Parses http[s]://HOST[:PORT][/PATH]; when the URL has no path (or just
// "/"), `default_path` is used. Throws EndpointError on anything else.
HttpEndpoint parse_http_endpoint(const std::string &url, const std::string &default_path);
// Throws EndpointError when the host does not resolve.
void require_resolvable(const HttpEndpoint &e);

// A listen address the user can fix; what() is one line.
class ListenError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct ListenAddress {
  std::string host = "127.0.0.1";
  int port = 0; // 0: any free port
};

// "[ADDR:]PORT", "[v6addr]:PORT"; throws ListenError on anything else.
ListenAddress parse_listen_address(const std::string &spec);

} // namespace kernspan::exporters
