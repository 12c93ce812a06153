// SPDX-License-Identifier: Apache-2.0
// OTLP: bodies decoded by the OpenTelemetry JS package's own generated code
// (tests/otlp-decoder), and the sink against an in-process receiver that is
// down, slow, rejecting, then back.
#include "exporters/otlp.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unistd.h>

#include "otlp_trace.pb.h"
#include "test_spans.hpp"

namespace kernspan::exporters {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(OtlpEndpoint, ParsesAndAppendsThePathOnlyWhenMissing) {
  const auto a = parse_http_endpoint("http://localhost:4318", "/v1/traces");
  EXPECT_EQ(a.url(), "http://localhost:4318/v1/traces");
  EXPECT_EQ(parse_http_endpoint("http://h:1/", "/v1/traces").url(), "http://h:1/v1/traces");
  EXPECT_EQ(parse_http_endpoint("HTTP://h:1/custom/path", "/v1/traces").url(),
            "http://h:1/custom/path");
  EXPECT_EQ(parse_http_endpoint("https://h", "/x").url(), "https://h:443/x");
  EXPECT_EQ(parse_http_endpoint("http://[::1]:4318", "/v1/traces").url(),
            "http://[::1]:4318/v1/traces");
  for (const char *bad : {"localhost:4318", "ftp://h/", "http://", "http://h:0", "http://h:99999",
                          "http://h:x", "http://h:", "http://[::1", "http://u@h/", "http://h /"}) {
    EXPECT_THROW(parse_http_endpoint(bad, "/v1/traces"), EndpointError) << bad;
  }
  EXPECT_THROW(require_resolvable(parse_http_endpoint("http://no-such-host.invalid", "/")),
               EndpointError);
}

// Spans covering every field: a root with costs, a child, a remote-parented
// incomplete span whose name and attribute are not UTF-8.
std::vector<core::Span> sample_spans() {
  auto remote = testing::child_span();
  remote.name = "bad\xFFname";
  remote.span_id = 0xA1A2A3A4A5A6A7A8ULL;
  remote.parent_span_id = 0x00f067aa0ba902b7ULL;
  remote.remote_parent = true;
  remote.incomplete = true;
  remote.attributes = {{"s", std::string("\xC3\x28")}};
  return {testing::root_span(), testing::child_span(), remote};
}

const Attributes kResource = {{"service.name", std::string("demo")},
                              {"process.pid", int64_t{1200}}};

// The request as the OpenTelemetry JS decoder sees it.
json decode_with_js(const std::string &body, const char *encoding) {
  const std::string dir = OTLP_DECODER_DIR;
  if (access((dir + "/node_modules/@opentelemetry/otlp-transformer").c_str(), F_OK) != 0) {
    ADD_FAILURE() << "run `npm ci` in " << dir << " (scripts/test.sh does)";
    return nullptr;
  }
  const std::string file = ::testing::TempDir() + "otlp-body-" + encoding;
  std::ofstream(file, std::ios::binary) << body;
  const std::string cmd = "node " + dir + "/decode.js " + encoding + " " + file;
  FILE *p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    out.append(buf, n);
  }
  EXPECT_EQ(pclose(p), 0) << cmd;
  return json::parse(out, nullptr, false);
}

json attr(const json &attrs, const std::string &key) {
  for (const auto &kv : attrs) {
    if (kv["key"] == key) {
      return kv["value"];
    }
  }
  return nullptr;
}

void expect_decoded(const json &req) {
  ASSERT_TRUE(req.is_object()) << req;
  ASSERT_EQ(req["resourceSpans"].size(), 1u);
  const json &rs = req["resourceSpans"][0];
  EXPECT_EQ(attr(rs["resource"]["attributes"], "service.name"), json({{"stringValue", "demo"}}));
  EXPECT_EQ(attr(rs["resource"]["attributes"], "process.pid"), json({{"intValue", "1200"}}));
  ASSERT_EQ(rs["scopeSpans"].size(), 1u);
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["name"], "kernspan");
  const json &spans = rs["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 3u);

  const json &root = spans[0];
  EXPECT_EQ(root["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(root["spanId"], "1122334455667788");
  EXPECT_FALSE(root.contains("parentSpanId") && root["parentSpanId"] != "") << root;
  EXPECT_EQ(root["name"], "request");
  EXPECT_EQ(root["kind"], 1);
  EXPECT_EQ(root["startTimeUnixNano"], "1700000000122456789");
  EXPECT_EQ(root["endTimeUnixNano"], "1700000000124956789");
  EXPECT_EQ(attr(root["attributes"], "kernspan.cpu_ns"), json({{"intValue", "101"}}));
  EXPECT_EQ(attr(root["attributes"], "kernspan.ctxsw_involuntary"), json({{"intValue", "116"}}));
  EXPECT_EQ(attr(root["attributes"], "thread.id"), json({{"intValue", "1200"}}));
  EXPECT_EQ(attr(root["attributes"], "thread.name"), json({{"stringValue", "server"}}));
  EXPECT_FALSE(root.contains("status") && root["status"].contains("code")) << root;

  const json &child = spans[1];
  EXPECT_EQ(child["parentSpanId"], "1122334455667788");
  EXPECT_EQ(child["traceId"], root["traceId"]);
  EXPECT_EQ(child["endTimeUnixNano"], "1700000000123769289");
  EXPECT_EQ(attr(child["attributes"], "bytes"), json({{"intValue", "42"}}));
  EXPECT_EQ(attr(child["attributes"], "ok"), json({{"boolValue", true}}));
  EXPECT_EQ(attr(child["attributes"], "path"), json({{"stringValue", "/x"}}));
  EXPECT_EQ(attr(child["attributes"], "ratio"), json({{"doubleValue", 0.25}}));
  EXPECT_TRUE(attr(child["attributes"], "kernspan.cpu_ns").is_null()) << "no costs, no attrs";

  const json &remote = spans[2];
  EXPECT_EQ(remote["name"], "bad\xEF\xBF\xBDname");
  EXPECT_EQ(remote["parentSpanId"], "00f067aa0ba902b7");
  EXPECT_EQ(attr(remote["attributes"], "kernspan.remote_parent"), json({{"boolValue", true}}));
  EXPECT_EQ(attr(remote["attributes"], "kernspan.incomplete"), json({{"boolValue", true}}));
  EXPECT_EQ(attr(remote["attributes"], "s"), json({{"stringValue", "\xEF\xBF\xBD("}}));
  EXPECT_EQ(remote["status"]["code"], 2);
}

TEST(Otlp, ProtobufDecodedByOpenTelemetryJs) {
  expect_decoded(
      decode_with_js(encode_otlp(sample_spans(), kResource, OtlpEncoding::kProtobuf), "protobuf"));
}

TEST(Otlp, JsonDecodedByOpenTelemetryJs) {
  const std::string body = encode_otlp(sample_spans(), kResource, OtlpEncoding::kJson);
  EXPECT_NE(body.find("\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\""), std::string::npos);
  EXPECT_NE(body.find("\"startTimeUnixNano\":\"1700000000122456789\""), std::string::npos);
  expect_decoded(decode_with_js(body, "json"));
}

TEST(Otlp, RemoteParentFlagsFollowTheSpec) {
  kernspan::otlp::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(encode_otlp(sample_spans(), kResource, OtlpEncoding::kProtobuf)));
  const auto &spans = req.resource_spans(0).scope_spans(0).spans();
  EXPECT_EQ(spans[0].flags(), 0x100u) << "remoteness known, local";
  EXPECT_EQ(spans[2].flags(), 0x300u) << "remote parent";
}

// An OTLP receiver on a loopback port whose answers the test scripts.
class Receiver {
public:
  explicit Receiver(int port = 0) {
    server_.Post("/v1/traces", [this](const httplib::Request &req, httplib::Response &res) {
      const int n = requests_++;
      if (delay_.count() > 0) {
        std::this_thread::sleep_for(delay_);
      }
      const int status = n < static_cast<int>(statuses_.size()) ? statuses_[n] : 200;
      res.status = status;
      if (status == 200) {
        std::lock_guard lock(mu_);
        kernspan::otlp::ExportTraceServiceRequest r;
        EXPECT_TRUE(r.ParseFromString(req.body));
        EXPECT_EQ(req.get_header_value("Content-Type"), "application/x-protobuf");
        for (const auto &s : r.resource_spans(0).scope_spans(0).spans()) {
          ids_.push_back(s.span_id());
        }
        res.set_content("", "application/x-protobuf");
      } else {
        res.set_content("{\"message\":\"bad\\nrequest\"}", "application/json");
      }
    });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                      : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    EXPECT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (port_ > 0 && !server_.is_running()) { // a stop() before this would be lost
      std::this_thread::sleep_for(1ms);
    }
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  [[nodiscard]] HttpEndpoint endpoint() const {
    return parse_http_endpoint("http://127.0.0.1:" + std::to_string(port_), "/v1/traces");
  }
  [[nodiscard]] std::vector<std::string> ids() const {
    std::lock_guard lock(mu_);
    return ids_;
  }
  std::vector<int> statuses_; // answers of the first requests, then 200
  std::chrono::milliseconds delay_{0};
  std::atomic<int> requests_{0};

private:
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> ids_;
};

core::Span numbered(uint64_t i) {
  auto s = testing::child_span();
  s.span_id = i + 1;
  return s;
}

OtlpOptions fast_options(const HttpEndpoint &e) {
  OtlpOptions o;
  o.endpoint = e;
  o.max_batch = 100;
  o.batch_delay = 50ms;
  o.initial_backoff = 10ms;
  o.max_backoff = 50ms;
  o.shutdown_deadline = 2000ms;
  return o;
}

void expect_unique(const std::vector<std::string> &ids) {
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size())
      << "a span was sent twice";
}

TEST(OtlpSink, DeliversEverySpanOnceInBatches) {
  Receiver rx;
  auto opt = fast_options(rx.endpoint());
  opt.gzip = true;
  OtlpSink sink(opt);
  for (uint64_t i = 0; i < 1000; i++) {
    sink.on_span(numbered(i));
  }
  sink.close();
  const auto s = sink.stats();
  EXPECT_EQ(s.sent_spans, 1000u);
  EXPECT_EQ(rx.ids().size(), 1000u);
  expect_unique(rx.ids());
  EXPECT_GE(s.sent_requests, 10u);
  core::DropCounts d;
  sink.add_drops(d);
  EXPECT_EQ(d.total(), 0u);
}

TEST(OtlpSink, RetriesUnavailableThenDeliversOnce) {
  Receiver rx;
  rx.statuses_ = {503, 429, 502};
  OtlpSink sink(fast_options(rx.endpoint()));
  for (uint64_t i = 0; i < 50; i++) {
    sink.on_span(numbered(i));
  }
  sink.close();
  EXPECT_EQ(sink.stats().retries, 3u);
  EXPECT_EQ(rx.ids().size(), 50u);
  expect_unique(rx.ids());
}

TEST(OtlpSink, BadRequestIsLoggedOnceAndCounted) {
  Receiver rx;
  rx.statuses_ = {400, 400};
  auto opt = fast_options(rx.endpoint());
  opt.max_batch = 10;
  OtlpSink sink(opt);
  ::testing::internal::CaptureStderr();
  for (uint64_t i = 0; i < 30; i++) {
    sink.on_span(numbered(i));
  }
  sink.close();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(sink.stats().rejected, 20u);
  EXPECT_EQ(rx.ids().size(), 10u);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("HTTP 400): {\"message\":\"bad\\nrequest\"}"), std::string::npos) << err;
}

// Down (nothing listens), then slow, then back: the queue stays within its
// bound, what overflows is counted, and nothing arrives twice.
TEST(OtlpSink, CollectorDownSlowThenBack) {
  int port = 0;
  {
    Receiver probe; // learn a free port, then free it
    port = probe.endpoint().port;
  }
  auto opt = fast_options(parse_http_endpoint("http://127.0.0.1:" + std::to_string(port), "/"));
  opt.endpoint.path = "/v1/traces";
  opt.max_queue = 200;
  opt.max_batch = 50;
  opt.shutdown_deadline = 5000ms;
  OtlpSink sink(opt);
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < 1000; i++) {
    sink.on_span(numbered(i)); // never blocks: the consumer keeps up
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);
  std::this_thread::sleep_for(300ms); // down: retries fail
  auto s = sink.stats();
  EXPECT_GT(s.retries, 0u);
  EXPECT_LE(s.max_queued, 200u);
  EXPECT_GE(s.queue_full, 750u);
  {
    Receiver slow(port);
    slow.delay_ = 100ms;
    for (int i = 0; i < 100 && sink.stats().sent_spans + sink.stats().queue_full < 1000; i++) {
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(sink.stats().sent_spans + sink.stats().queue_full, 1000u);
    expect_unique(slow.ids());
    EXPECT_EQ(slow.ids().size(), sink.stats().sent_spans);
  }
  Receiver back(port);
  for (uint64_t i = 1000; i < 1100; i++) {
    sink.on_span(numbered(i));
  }
  sink.close();
  s = sink.stats();
  EXPECT_EQ(back.ids().size(), 100u);
  expect_unique(back.ids());
  EXPECT_EQ(s.sent_spans + s.queue_full, 1100u);
  EXPECT_EQ(s.rejected + s.retries_exhausted + s.shutdown, 0u);
  EXPECT_LE(s.max_queued, 200u);
}

TEST(OtlpSink, DeadCollectorAtExitGivesUpByTheDeadline) {
  Receiver rx;
  rx.statuses_ = std::vector<int>(1000, 503);
  auto opt = fast_options(rx.endpoint());
  opt.shutdown_deadline = 300ms;
  OtlpSink sink(opt);
  for (uint64_t i = 0; i < 150; i++) {
    sink.on_span(numbered(i));
  }
  const auto t0 = std::chrono::steady_clock::now();
  sink.close();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms);
  const auto s = sink.stats();
  EXPECT_EQ(s.shutdown, 150u);
  EXPECT_EQ(rx.ids().size(), 0u);
}

} // namespace
} // namespace kernspan::exporters
