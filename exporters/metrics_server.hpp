// SPDX-License-Identifier: Apache-2.0
// The HTTP endpoint Prometheus scrapes: GET /metrics, rendered on demand by
// a PrometheusSink on the server's own threads.
#pragma once

#include <memory>
#include <string>

#include "exporters/endpoints.hpp"
#include "exporters/net_plugin.hpp"
#include "exporters/prometheus.hpp"

namespace kernspan::exporters {

class MetricsServer : public MetricsEndpoint {
public:
  // Binds at once (throws ListenError: port in use, bad address) and serves
  // from a background thread until destroyed.
  MetricsServer(const ListenAddress &addr, const PrometheusSink &sink);
  ~MetricsServer() override;
  MetricsServer(const MetricsServer &) = delete;
  MetricsServer &operator=(const MetricsServer &) = delete;

  [[nodiscard]] int port() const override { return port_; }
  [[nodiscard]] std::string url() const override; // http://HOST:PORT/metrics

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
  std::string host_;
  int port_ = 0;
};

} // namespace kernspan::exporters
