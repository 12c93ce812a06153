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
#include "exporters/endpoints.hpp"
#include "exporters/sink.hpp"

namespace kernspan::exporters {

struct BatchOptions {
  size_t max_queue = 8192;                          // spans waiting; more are dropped and counted
  size_t max_batch = 512;                           // spans per request
  std::chrono::milliseconds batch_delay{1000};      // send a partial batch after this
  std::chrono::milliseconds initial_backoff{100};   // doubled per retry…
  std::chrono::milliseconds max_backoff{5000};      // …up to this
  std::chrono::milliseconds max_retry_time{60000};  // then the batch is dropped
  std::chrono::milliseconds request_timeout{10000}; // per attempt
  // close() gives up this long after it is called (--export-timeout): what
  // is still queued or in flight then is counted as <name>_shutdown. A
  // request in flight at the deadline is cut (its socket shut down), so a
  // dead, slow or black-holed collector never holds up the exit for longer.
  std::chrono::milliseconds shutdown_deadline{1000};
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
  void close(); // final flush, bounded by shutdown_deadline (see BatchOptions)
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
  // The socket of the attempt in flight (a dup of httplib's, ours to
  // close), so close() can shut it down at the deadline; -1 when none.
  void track_socket(int fd);
  void untrack_socket();

  const Target target_;
  const BatchOptions options_;
  const Encoder encode_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<core::Span> queue_;
  bool flush_requested_ = false;
  bool closing_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  bool cut_ = false;      // the deadline passed in close(): shut down new sockets
  bool finished_ = false; // run() returned
  int attempt_fd_ = -1;
  std::condition_variable finished_cv_;
  bool logged_rejection_ = false;
  Stats stats_;
  std::thread thread_; // last: starts once everything above exists
};

// A span sink that hands every span to an HttpBatchSender: what the OTLP
// and Zipkin sinks share; they differ only in their target and encoder.
class HttpBatchSink : public Sink {
public:
  HttpBatchSink(HttpBatchSender::Target target, const BatchOptions &options,
                HttpBatchSender::Encoder encode)
      : sender_(std::move(target), options, std::move(encode)) {}

  void on_span(const core::Span &span) override { sender_.enqueue(span); }
  void flush() override { sender_.flush(); }
  void close() override { sender_.close(); }
  void add_drops(core::DropCounts &out) const override { sender_.add_drops(out); }

  using Stats = HttpBatchSender::Stats;
  [[nodiscard]] Stats stats() const { return sender_.stats(); }

private:
  HttpBatchSender sender_;
};

} // namespace kernspan::exporters
