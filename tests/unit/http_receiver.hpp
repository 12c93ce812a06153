// SPDX-License-Identifier: Apache-2.0
// What the push-over-HTTP sink tests share: a receiver on a loopback port
// whose answers a test scripts, numbered spans, and batch options that
// make a test quick.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <gtest/gtest.h>
#include <httplib.h>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exporters/http_batch.hpp"
#include "test_spans.hpp"

namespace kernspan::testing {

// POSTs to `path` on 127.0.0.1: the first requests get `statuses`' answers
// (a non-2xx one with `reject_body`), then `ok_status`; accepted bodies are
// kept. `hold` keeps each request until release() (hang guard: 30 s).
class ScriptedReceiver {
public:
  ScriptedReceiver(const std::string &path, int ok_status, int port = 0) : ok_status_(ok_status) {
    server_.Post(path, [this](const httplib::Request &req, httplib::Response &res) {
      const size_t n = requests_++;
      if (hold_) {
        std::unique_lock lock(mu_);
        released_cv_.wait_for(lock, std::chrono::seconds(30), [this] { return released_; });
        if (!released_) {
          ADD_FAILURE() << "held request never released";
        }
      }
      if (delay_.count() > 0) {
        std::this_thread::sleep_for(delay_);
      }
      const int status = n < statuses_.size() ? statuses_[n] : ok_status_;
      res.status = status;
      std::lock_guard lock(mu_);
      if (status == ok_status_) {
        bodies_.push_back(req.body);
        types_.insert(req.get_header_value("Content-Type"));
      } else {
        res.set_content(reject_body_, reject_type_);
      }
    });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                      : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    EXPECT_GT(port_, 0);
    if (port_ > 0) {
      thread_ = std::thread([this] { server_.listen_after_bind(); });
      while (!server_.is_running()) { // a stop() before this would be lost
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }
  ~ScriptedReceiver() {
    server_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  ScriptedReceiver(const ScriptedReceiver &) = delete;
  ScriptedReceiver &operator=(const ScriptedReceiver &) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::vector<std::string> bodies() const {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  [[nodiscard]] std::set<std::string> types() const {
    std::lock_guard lock(mu_);
    return types_;
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    released_cv_.notify_all();
  }

  std::vector<int> statuses_; // answers of the first requests, then ok_status
  std::string reject_body_ = "bad request";
  std::string reject_type_ = "text/plain";
  std::chrono::milliseconds delay_{0};
  std::atomic<bool> hold_{false};
  std::atomic<size_t> requests_{0};

private:
  const int ok_status_;
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::vector<std::string> bodies_;
  std::set<std::string> types_;
};

// A loopback port that was free a moment ago (nothing listens on it).
inline int closed_port() {
  ScriptedReceiver probe("/", 200);
  return probe.port();
}

// Span i of a test: child_span() with span_id i + 1.
inline core::Span numbered(uint64_t i) {
  auto s = child_span();
  s.span_id = i + 1;
  return s;
}

// Small batches and short waits, so a test takes milliseconds.
inline void make_fast(exporters::BatchOptions &o) {
  using namespace std::chrono_literals;
  o.max_batch = 100;
  o.batch_delay = 50ms;
  o.initial_backoff = 10ms;
  o.max_backoff = 50ms;
  o.shutdown_deadline = 2000ms;
}

} // namespace kernspan::testing
