// SPDX-License-Identifier: Apache-2.0
// OTLP/HTTP traces: spans pushed to an OpenTelemetry collector, Jaeger or
// Tempo (POST .../v1/traces), as protobuf or OTLP JSON, batched on a
// background thread so a slow or dead collector never stalls the consumer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/span.hpp"
#include "exporters/otlp_encode.hpp"
#include "exporters/sink.hpp"

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

struct OtlpOptions {
  HttpEndpoint endpoint;
  OtlpEncoding encoding = OtlpEncoding::kProtobuf;
  bool gzip = false;
  Attributes resource;
  size_t max_queue = 8192;                          // spans waiting; more are dropped and counted
  size_t max_batch = 512;                           // spans per request
  std::chrono::milliseconds batch_delay{1000};      // send a partial batch after this
  std::chrono::milliseconds initial_backoff{100};   // doubled per retry…
  std::chrono::milliseconds max_backoff{5000};      // …up to this
  std::chrono::milliseconds max_retry_time{60000};  // then the batch is dropped
  std::chrono::milliseconds request_timeout{10000}; // per attempt
  std::chrono::milliseconds shutdown_deadline{5000};
};

// Retries 429, 502, 503, 504 and connection errors with exponential
// backoff; any other non-2xx drops the batch (a 400's body is logged once).
// Every span that is never delivered is counted under one place:
// otlp_queue_full, otlp_rejected, otlp_retries_exhausted or otlp_shutdown.
class OtlpSink : public Sink {
public:
  explicit OtlpSink(OtlpOptions options);
  ~OtlpSink() override;

  void on_span(const core::Span &span) override; // never blocks on the network
  void flush() override;                         // send what is queued now
  void close() override;                         // final flush, bounded by shutdown_deadline
  void add_drops(core::DropCounts &out) const override;

  struct Stats {
    uint64_t sent_spans = 0;
    uint64_t sent_requests = 0;
    uint64_t retries = 0;
    uint64_t queue_full = 0;
    uint64_t rejected = 0;
    uint64_t retries_exhausted = 0;
    uint64_t shutdown = 0;
    size_t max_queued = 0; // high-water mark of the queue
  };
  [[nodiscard]] Stats stats() const;

private:
  void run();
  // Sends one batch until delivered, rejected or out of time.
  void deliver(const std::string &body, size_t spans);

  const OtlpOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<core::Span> queue_;
  bool flush_requested_ = false;
  bool closing_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  bool logged_rejection_ = false;
  Stats stats_;
  std::thread thread_;
};

} // namespace kernspan::exporters
