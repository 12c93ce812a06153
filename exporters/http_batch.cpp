// SPDX-License-Identifier: Apache-2.0
#include "exporters/http_batch.hpp"

#include <algorithm>
#include <cstdio>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include "exporters/utf8.hpp"

namespace kernspan::exporters {
namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return s;
}

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

std::string HttpEndpoint::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string HttpEndpoint::url() const {
  return origin() + path;
}

HttpEndpoint parse_http_endpoint(const std::string &url, const std::string &default_path) {
  const auto bad = [&](const std::string &why) {
    return EndpointError("bad URL '" + url + "': " + why);
  };
  HttpEndpoint e;
  const size_t sep = url.find("://");
  if (sep == std::string::npos) {
    throw bad("expected http://HOST[:PORT][/PATH]");
  }
  e.scheme = lower(url.substr(0, sep));
  if (e.scheme != "http" && e.scheme != "https") {
    throw bad("scheme must be http or https");
  }
  std::string rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  e.path = slash == std::string::npos ? "" : rest.substr(slash);
  if (e.path.empty() || e.path == "/") {
    e.path = default_path;
  }
  if (authority.find('@') != std::string::npos) {
    throw bad("credentials in the URL are not supported");
  }
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) {
      throw bad("unclosed '[' in host");
    }
    e.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      throw bad("unexpected text after ']'");
    }
    port = after.empty() ? "" : after.substr(1);
  } else {
    const size_t colon = authority.find(':');
    e.host = authority.substr(0, colon);
    port = colon == std::string::npos ? "" : authority.substr(colon + 1);
    if (colon != std::string::npos && port.empty()) {
      throw bad("empty port");
    }
  }
  if (e.host.empty() || e.host.find_first_of(" \t\r\n?#%") != std::string::npos) {
    throw bad("missing or invalid host");
  }
  if (port.empty()) {
    e.port = e.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
      throw bad("port must be a number 1-65535");
    }
    e.port = std::stoi(port);
    if (e.port < 1 || e.port > 65535) {
      throw bad("port must be a number 1-65535");
    }
  }
  if (e.path.find_first_of(" \t\r\n") != std::string::npos) {
    throw bad("whitespace in path");
  }
  return e;
}

void require_resolvable(const HttpEndpoint &e) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *res = nullptr;
  const int rc = getaddrinfo(e.host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    throw EndpointError("cannot resolve host '" + e.host + "' of " + e.url() + ": " +
                        gai_strerror(rc));
  }
  freeaddrinfo(res);
}

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
