// SPDX-License-Identifier: Apache-2.0
// The HTTP endpoint Prometheus scrapes: GET /metrics, rendered on demand by
// a PrometheusSink on the server's own threads.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "exporters/prometheus.hpp"

namespace kernspan::exporters {

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

class MetricsServer {
public:
  // Binds at once (throws ListenError: port in use, bad address) and serves
  // from a background thread until destroyed.
  MetricsServer(const ListenAddress &addr, const PrometheusSink &sink);
  ~MetricsServer();
  MetricsServer(const MetricsServer &) = delete;
  MetricsServer &operator=(const MetricsServer &) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const; // http://HOST:PORT/metrics

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
  std::string host_;
  int port_ = 0;
};

} // namespace kernspan::exporters
