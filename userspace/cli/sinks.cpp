// SPDX-License-Identifier: Apache-2.0
#include "cli/sinks.hpp"

#include "probe/proc_maps.hpp"

#include <cstdio>

namespace kernspan::cli {

void add_sink_options(CLI::App &cmd, SinkOptions &o) {
  cmd.add_option("--prometheus", o.prometheus,
                 "serve Prometheus metrics on [ADDR:]PORT/metrics (ADDR defaults to "
                 "127.0.0.1; PORT 0 picks a free port)");
  cmd.add_option("--service", o.service, "service name on exported data (default: process name)");
  cmd.add_option("--max-span-names", o.max_span_names,
                 "distinct span names with their own metric series; more go to __overflow__")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

SinkSet make_sinks(const SinkOptions &o, pid_t pid,
                   std::vector<std::unique_ptr<exporters::Sink>> &sinks) {
  SinkSet set;
  set.sinks_ = &sinks;
  const std::string service = o.service.empty() ? probe::comm(pid) : o.service;
  if (!o.prometheus.empty()) {
    const auto addr = exporters::parse_listen_address(o.prometheus);
    auto prom = std::make_unique<exporters::PrometheusSink>(
        exporters::PrometheusOptions{service, o.max_span_names});
    set.server_ = std::make_unique<exporters::MetricsServer>(addr, *prom);
    set.prometheus_ = prom.get();
    sinks.push_back(std::move(prom));
    std::fprintf(stderr, "kernspan: serving metrics on %s\n", set.server_->url().c_str());
  }
  return set;
}

core::DropCounts SinkSet::all_drops(const core::DropCounts &collector_drops) const {
  core::DropCounts all = collector_drops;
  if (sinks_ != nullptr) {
    for (const auto &s : *sinks_) {
      s->add_drops(all);
    }
  }
  return all;
}

void SinkSet::update_health(uint64_t records, const core::DropCounts &collector_drops) {
  if (prometheus_ != nullptr) {
    prometheus_->set_health({records, all_drops(collector_drops)});
  }
}

} // namespace kernspan::cli
