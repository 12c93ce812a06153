// SPDX-License-Identifier: Apache-2.0
// The entry point of libkernspan-net.so (net_plugin.hpp): the network sinks
// and the /metrics server, built here with cpp-httplib and libprotobuf.
#include "exporters/metrics_server.hpp"
#include "exporters/net_plugin.hpp"
#include "exporters/otlp.hpp"
#include "exporters/zipkin.hpp"

namespace kernspan::exporters {
namespace {

std::unique_ptr<Sink> make_otlp(const OtlpOptions &options) {
  return std::make_unique<OtlpSink>(options);
}

std::unique_ptr<Sink> make_zipkin(const ZipkinOptions &options) {
  return std::make_unique<ZipkinSink>(options);
}

std::unique_ptr<MetricsEndpoint> make_metrics_server(const ListenAddress &addr,
                                                     const PrometheusSink &sink) {
  return std::make_unique<MetricsServer>(addr, sink);
}

constexpr NetApi kApi{kNetAbi, make_otlp, make_zipkin, make_metrics_server};

} // namespace
} // namespace kernspan::exporters

extern "C" __attribute__((visibility("default"))) const kernspan::exporters::NetApi *
kernspan_net_api() {
  return &kernspan::exporters::kApi;
}
