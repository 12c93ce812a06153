// SPDX-License-Identifier: Apache-2.0
#include "exporters/http_batch.hpp"

#include <algorithm>
#include <cstdio>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include "exporters/utf8.hpp"

namespace kernspan::exporters {
namespace {

using Clock = std::chrono::steady_clock;

// A collector's answer, one line and bounded, for the log.
std::string printable_body(const std::string &body) {
  std::string s = sanitize_utf8(body.substr(0, 300));
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return s;
}

bool retryable(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

} // namespace

HttpBatchSender::HttpBatchSender(Target target, BatchOptions options, Encoder encode)
    : target_(std::move(target)), options_(options), encode_(std::move(encode)) {
  thread_ = std::thread([this] { run(); });
}

HttpBatchSender::~HttpBatchSender() {
  close();
}

void HttpBatchSender::enqueue(const core::Span &span) {
  std::lock_guard lock(mu_);
  if (closing_) {
    stats_.shutdown++;
    return;
  }
  if (queue_.size() >= options_.max_queue) {
    stats_.queue_full++;
    return;
  }
  queue_.push_back(span);
  stats_.max_queued = std::max(stats_.max_queued, queue_.size());
  if (queue_.size() >= options_.max_batch) {
    wake_.notify_one();
  }
}

void HttpBatchSender::flush() {
  std::lock_guard lock(mu_);
  flush_requested_ = true;
  wake_.notify_one();
}

void HttpBatchSender::close() {
  std::unique_lock lock(mu_);
  if (!closing_) {
    closing_ = true;
    deadline_ = Clock::now() + options_.shutdown_deadline;
  }
  wake_.notify_all();
  // The sender gives up on its own by the deadline between attempts; an
  // attempt in flight then (a slow or black-holed collector) is cut here.
  if (!finished_cv_.wait_until(lock, deadline_, [&] { return finished_; })) {
    cut_ = true;
    if (attempt_fd_ >= 0) {
      ::shutdown(attempt_fd_, SHUT_RDWR);
    }
  }
  lock.unlock();
  if (thread_.joinable()) {
    thread_.join();
    const Stats s = stats();
    std::fprintf(stderr,
                 "kernspan: %s: sent %llu spans in %llu requests (%llu retries); queue peak %zu "
                 "of %zu spans\n",
                 target_.name.c_str(), static_cast<unsigned long long>(s.sent_spans),
                 static_cast<unsigned long long>(s.sent_requests),
                 static_cast<unsigned long long>(s.retries), s.max_queued, options_.max_queue);
    if (s.shutdown > 0) {
      std::fprintf(stderr,
                   "kernspan: %s: %llu spans not sent by the export timeout (%.1f s) at exit; "
                   "counted as %s_shutdown\n",
                   target_.name.c_str(), static_cast<unsigned long long>(s.shutdown),
                   std::chrono::duration<double>(options_.shutdown_deadline).count(),
                   target_.name.c_str());
    }
  }
}

void HttpBatchSender::add_drops(core::DropCounts &out) const {
  const Stats s = stats();
  out.add(target_.name + "_queue_full", s.queue_full);
  out.add(target_.name + "_rejected", s.rejected);
  out.add(target_.name + "_retries_exhausted", s.retries_exhausted);
  out.add(target_.name + "_shutdown", s.shutdown);
}

HttpBatchSender::Stats HttpBatchSender::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void HttpBatchSender::run() {
  struct Finished {
    HttpBatchSender *self;
    ~Finished() {
      std::lock_guard lock(self->mu_);
      self->finished_ = true;
      self->finished_cv_.notify_all();
    }
  } finished{this};
  for (;;) {
    std::vector<core::Span> batch;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, options_.batch_delay, [&] {
        return closing_ || flush_requested_ || queue_.size() >= options_.max_batch;
      });
      if (closing_ && Clock::now() >= deadline_) {
        stats_.shutdown += queue_.size();
        queue_.clear();
        return;
      }
      if (queue_.empty()) {
        flush_requested_ = false;
        if (closing_) {
          return;
        }
        continue;
      }
      const size_t n = std::min(queue_.size(), options_.max_batch);
      batch.reserve(n);
      std::move(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n),
                std::back_inserter(batch));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      if (queue_.empty()) {
        flush_requested_ = false;
      }
    }
    deliver(encode_(batch), batch.size());
  }
}

void HttpBatchSender::track_socket(int fd) {
  std::lock_guard lock(mu_);
  if (attempt_fd_ >= 0) {
    ::close(attempt_fd_);
  }
  attempt_fd_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (cut_ && attempt_fd_ >= 0) {
    ::shutdown(attempt_fd_, SHUT_RDWR);
  }
}

void HttpBatchSender::untrack_socket() {
  std::lock_guard lock(mu_);
  if (attempt_fd_ >= 0) {
    ::close(attempt_fd_);
    attempt_fd_ = -1;
  }
}

void HttpBatchSender::deliver(const std::string &body, size_t spans) {
  const HttpEndpoint &ep = target_.endpoint;
  httplib::Client client(ep.origin());
  client.set_compress(target_.gzip);
  client.set_socket_options([this](socket_t fd) { track_socket(fd); });
  struct Untrack {
    HttpBatchSender *self;
    ~Untrack() { self->untrack_socket(); }
  } untrack{this};
  const auto start = Clock::now();
  auto backoff = options_.initial_backoff;
  for (;;) {
    {
      // Once closing, an attempt may not outlast the deadline.
      std::unique_lock lock(mu_);
      auto timeout = options_.request_timeout;
      if (closing_) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
        if (left.count() <= 0) {
          stats_.shutdown += spans;
          return;
        }
        timeout = std::min(timeout, left);
      }
      client.set_connection_timeout(std::min(timeout, std::chrono::milliseconds(2000)));
      client.set_read_timeout(timeout);
      client.set_write_timeout(timeout);
    }
    const auto res = client.Post(ep.path, body, target_.content_type);
    std::unique_lock lock(mu_);
    if (res && res->status >= 200 && res->status < 300) {
      stats_.sent_spans += spans;
      stats_.sent_requests++;
      return;
    }
    if (res && !retryable(res->status)) {
      stats_.rejected += spans;
      if (!logged_rejection_) {
        logged_rejection_ = true;
        std::fprintf(stderr,
                     "kernspan: %s: %s rejected %zu spans (HTTP %d): %s; further "
                     "rejections are only counted\n",
                     target_.name.c_str(), ep.url().c_str(), spans, res->status,
                     printable_body(res->body).c_str());
      }
      return;
    }
    auto limit = start + options_.max_retry_time;
    if (closing_) {
      limit = std::min(limit, deadline_);
    }
    if (Clock::now() + backoff > limit) {
      (closing_ ? stats_.shutdown : stats_.retries_exhausted) += spans;
      return;
    }
    stats_.retries++;
    // Sleep the backoff, but no later than a shutdown deadline that may be
    // set while we sleep.
    const auto until = Clock::now() + backoff;
    for (;;) {
      const auto wake_at = closing_ ? std::min(until, deadline_) : until;
      if (Clock::now() >= wake_at) {
        break;
      }
      wake_.wait_until(lock, wake_at);
    }
    if (closing_ && Clock::now() >= deadline_) {
      stats_.shutdown += spans;
      return;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

} // namespace kernspan::exporters
