// SPDX-License-Identifier: Apache-2.0
// The network exporters (OTLP/HTTP, Zipkin, the /metrics server) are built
// into libkernspan-net.so with what they need: cpp-httplib, which brings in
// and initializes OpenSSL, and libprotobuf. Mapped and initialized, those
// libraries take ~7 MB of resident memory, a third of a trace's. So the
// kernspan binary does not link them: net_api() loads the module the first
// time a network sink is asked for, and a plain trace never maps them.
#pragma once

#include <memory>
#include <string>

#include "exporters/sink.hpp"

namespace kernspan::exporters {

struct ListenAddress;
struct OtlpOptions;
struct ZipkinOptions;
class PrometheusSink;

// A running /metrics server (MetricsServer); serves until destroyed.
class MetricsEndpoint {
public:
  MetricsEndpoint() = default;
  virtual ~MetricsEndpoint() = default;
  MetricsEndpoint(const MetricsEndpoint &) = delete;
  MetricsEndpoint &operator=(const MetricsEndpoint &) = delete;
  [[nodiscard]] virtual int port() const = 0;
  [[nodiscard]] virtual std::string url() const = 0; // http://HOST:PORT/metrics
};

// The module's entry points. Each throws what its class's constructor
// throws (ListenError, EndpointError: one-line what()).
struct NetApi {
  int abi; // kNetAbi of the module's build
  std::unique_ptr<Sink> (*make_otlp)(const OtlpOptions &options);
  std::unique_ptr<Sink> (*make_zipkin)(const ZipkinOptions &options);
  std::unique_ptr<MetricsEndpoint> (*make_metrics_server)(const ListenAddress &addr,
                                                          const PrometheusSink &sink);
};

// Changed whenever NetApi or a type it passes changes; the module and the
// binary must agree (they are built together).
inline constexpr int kNetAbi = 1;

// The module's file name, looked for next to the kernspan binary and then in
// ../lib/kernspan/ from it.
inline constexpr const char *kNetModule = "libkernspan-net.so";

// Loads the module once (thread-safe) and returns its entry points. Throws
// std::runtime_error with a one-line what() when it cannot be loaded.
const NetApi &net_api();

} // namespace kernspan::exporters

// The one symbol the module exports.
extern "C" const kernspan::exporters::NetApi *kernspan_net_api();
