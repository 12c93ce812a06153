// SPDX-License-Identifier: Apache-2.0
#include "net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

#include "otlp_trace.pb.h"

namespace kernspan::itest {
namespace {

std::string hex(const std::string &bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(kDigits[u >> 4]);
    out.push_back(kDigits[u & 0xF]);
  }
  return out;
}

} // namespace

int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  const bool ok = bind(s, reinterpret_cast<sockaddr *>(&a), len) == 0 &&
                  getsockname(s, reinterpret_cast<sockaddr *>(&a), &len) == 0;
  close(s);
  return ok ? ntohs(a.sin_port) : -1;
}

int served_port(const std::string &err) {
  const std::string marker = "serving metrics on http://127.0.0.1:";
  const size_t at = err.find(marker);
  return at == std::string::npos ? -1 : std::atoi(err.c_str() + at + marker.size());
}

std::string scrape(int port, bool openmetrics) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  httplib::Headers headers;
  if (openmetrics) {
    headers.emplace("Accept", "application/openmetrics-text; version=1.0.0");
  }
  const auto res = c.Get("/metrics", headers);
  return res && res->status == 200 ? res->body : "";
}

double sample(const std::string &metrics, const std::string &series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.rfind(series, 0) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

std::map<std::string, uint64_t> summary_drops(const std::string &summary) {
  std::map<std::string, uint64_t> out;
  const size_t at = summary.find("drops:");
  if (at == std::string::npos) {
    return out;
  }
  std::istringstream in(summary.substr(at + 6, summary.find('\n', at) - at - 6));
  for (std::string word; in >> word;) {
    const size_t eq = word.find('=');
    if (eq != std::string::npos) {
      out[word.substr(0, eq)] = std::stoull(word.substr(eq + 1));
    }
  }
  return out;
}

std::map<std::string, size_t> report_counts(const nlohmann::json &report) {
  std::map<std::string, size_t> out;
  for (const auto &[name, st] : report["spans"].items()) {
    out[name] = st["count"].get<size_t>();
  }
  return out;
}

SpanCollector::SpanCollector(int port) {
  const auto wait = [this] {
    if (const int ms = delay_ms; ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
  };
  server_.Post("/v1/traces", [this, wait](const httplib::Request &req, httplib::Response &res) {
    requests_++;
    wait();
    kernspan::otlp::ExportTraceServiceRequest r;
    std::lock_guard lock(mu_);
    if (!r.ParseFromString(req.body)) {
      bad_++;
      res.status = 400;
      return;
    }
    for (const auto &rs : r.resource_spans()) {
      for (const auto &ss : rs.scope_spans()) {
        for (const auto &s : ss.spans()) {
          otlp_.push_back(hex(s.span_id()));
        }
      }
    }
    res.status = 200;
  });
  server_.Post("/api/v2/spans", [this, wait](const httplib::Request &req, httplib::Response &res) {
    requests_++;
    wait();
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    std::lock_guard lock(mu_);
    if (!body.is_array()) {
      bad_++;
      res.status = 400;
      return;
    }
    for (const auto &s : body) {
      zipkin_.push_back(s["id"]);
    }
    res.status = 202;
  });
  port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                    : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
  if (port_ > 0) {
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) { // a stop() before this would be lost
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

SpanCollector::~SpanCollector() {
  server_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::vector<std::string> SpanCollector::otlp() const {
  std::lock_guard lock(mu_);
  return otlp_;
}

std::vector<std::string> SpanCollector::zipkin() const {
  std::lock_guard lock(mu_);
  return zipkin_;
}

int SpanCollector::bad() const {
  std::lock_guard lock(mu_);
  return bad_;
}

} // namespace kernspan::itest
