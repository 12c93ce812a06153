// SPDX-License-Identifier: Apache-2.0
// Helpers for tests of kernspan's network sinks: loopback ports, scraping
// /metrics, the summary's drop counters, and an OTLP + Zipkin collector
// whose answers a test can slow down.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <httplib.h>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace kernspan::itest {

// A loopback port nobody listens on right now.
int free_port();
// The port kernspan printed in "serving metrics on http://127.0.0.1:PORT/metrics";
// -1 if absent.
int served_port(const std::string &err);
// GET /metrics (OpenMetrics when `openmetrics`); "" on any failure.
std::string scrape(int port, bool openmetrics = false);
// The value of the sample line starting with `series` (name{labels}), or -1.
double sample(const std::string &metrics, const std::string &series);
// place -> count from the summary's "drops: a=1 b=2 (total 3)" line.
std::map<std::string, uint64_t> summary_drops(const std::string &summary);
// span name -> count from demo_service's --report.
std::map<std::string, size_t> report_counts(const nlohmann::json &report);

// OTLP/HTTP (protobuf, POST /v1/traces) and Zipkin v2 (POST /api/v2/spans)
// on one loopback server; records the span ids (hex) each received, in
// order of arrival. Bodies that do not decode are answered 400 and counted.
class SpanCollector {
public:
  explicit SpanCollector(int port = 0); // 0: any free port
  ~SpanCollector();
  SpanCollector(const SpanCollector &) = delete;
  SpanCollector &operator=(const SpanCollector &) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::vector<std::string> otlp() const;
  [[nodiscard]] std::vector<std::string> zipkin() const;
  [[nodiscard]] int bad() const;
  [[nodiscard]] int requests() const { return requests_; }

  std::atomic<int> delay_ms{0}; // answer each request this much later

private:
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> otlp_;
  std::vector<std::string> zipkin_;
  int bad_ = 0;
  std::atomic<int> requests_{0};
};

} // namespace kernspan::itest
