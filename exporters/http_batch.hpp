// SPDX-License-Identifier: Apache-2.0
// What every push-over-HTTP span sink shares (OTLP, Zipkin): endpoint URLs,
// and a sender that batches spans on a background thread behind a bounded
// queue, retries with exponential backoff and counts every span it drops,
// so a slow or dead collector never stalls the consumer thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/span.hpp"
#include "core/stats.hpp"

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

struct BatchOptions {
  size_t max_queue = 8192;                          // spans waiting; more are dropped and counted
  size_t max_batch = 512;                           // spans per request
  std::chrono::milliseconds batch_delay{1000};      // send a partial batch after this
  std::chrono::milliseconds initial_backoff{100};   // doubled per retry…
  std::chrono::milliseconds max_backoff{5000};      // …up to this
  std::chrono::milliseconds max_retry_time{60000};  // then the batch is dropped
  std::chrono::milliseconds request_timeout{10000}; // per attempt
  std::chrono::milliseconds shutdown_deadline{5000};
};

// POSTs batches of spans, encoded by `encode`, to one endpoint. Retries 429,
// 502, 503, 504 and connection errors with exponential backoff; any other
// non-2xx drops the batch (the first rejection's body is logged once).
// Every span that is never delivered is counted under one place, prefixed
// with the sender's name: <name>_queue_full, <name>_rejected,
// <name>_retries_exhausted or <name>_shutdown. A span is sent at most once.
class HttpBatchSender {
public:
  using Encoder = std::function<std::string(const std::vector<core::Span> &)>;
  struct Target {
    std::string name; // "otlp", "zipkin": log prefix and drop places
    HttpEndpoint endpoint;
    std::string content_type;
    bool gzip = false;
  };

  HttpBatchSender(Target target, BatchOptions options, Encoder encode);
  ~HttpBatchSender();
  HttpBatchSender(const HttpBatchSender &) = delete;
  HttpBatchSender &operator=(const HttpBatchSender &) = delete;

  void enqueue(const core::Span &span); // never blocks on the network
  void flush();                         // send what is queued now
  void close();                         // final flush, bounded by shutdown_deadline
  void add_drops(core::DropCounts &out) const;

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

  const Target target_;
  const BatchOptions options_;
  const Encoder encode_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<core::Span> queue_;
  bool flush_requested_ = false;
  bool closing_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  bool logged_rejection_ = false;
  Stats stats_;
  std::thread thread_; // last: starts once everything above exists
};

} // namespace kernspan::exporters
