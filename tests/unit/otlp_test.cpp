// SPDX-License-Identifier: Apache-2.0
// OTLP: bodies decoded by the OpenTelemetry JS package's own generated code
// (tests/otlp-decoder), and the sink against an in-process receiver that is
// down, slow, rejecting, then back.
#include "exporters/otlp.hpp"

#include <chrono>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unistd.h>

#include "command.hpp"
#include "http_receiver.hpp"
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
  int status = 0;
  const std::string out = kernspan::testing::run_command(cmd, &status);
  EXPECT_EQ(status, 0) << cmd;
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

using kernspan::testing::numbered;

// An OTLP receiver on a loopback port whose answers the test scripts.
class Receiver : public kernspan::testing::ScriptedReceiver {
public:
  explicit Receiver(int port = 0) : ScriptedReceiver("/v1/traces", 200, port) {
    reject_body_ = "{\"message\":\"bad\\nrequest\"}";
    reject_type_ = "application/json";
  }
  [[nodiscard]] HttpEndpoint endpoint() const {
    return parse_http_endpoint(origin(), "/v1/traces");
  }
  // The span ids of every accepted body, decoded with our messages.
  [[nodiscard]] std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto &body : bodies()) {
      kernspan::otlp::ExportTraceServiceRequest r;
      EXPECT_TRUE(r.ParseFromString(body));
      for (const auto &s : r.resource_spans(0).scope_spans(0).spans()) {
        out.push_back(s.span_id());
      }
    }
    const auto t = types();
    EXPECT_TRUE(t.empty() || t == std::set<std::string>{"application/x-protobuf"});
    return out;
  }
};

OtlpOptions fast_options(const HttpEndpoint &e) {
  OtlpOptions o;
  o.endpoint = e;
  kernspan::testing::make_fast(o);
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
  EXPECT_EQ(err.find("rejected"), err.rfind("rejected")) << "logged once: " << err;
  EXPECT_NE(err.find("HTTP 400): {\"message\":\"bad\\nrequest\"}"), std::string::npos) << err;
}

// Down (nothing listens), then slow, then back: the queue stays within its
// bound, what overflows is counted, and nothing arrives twice.
TEST(OtlpSink, CollectorDownSlowThenBack) {
  const int port = kernspan::testing::closed_port();
  auto opt = fast_options(parse_http_endpoint("http://127.0.0.1:" + std::to_string(port), "/"));
  opt.endpoint.path = "/v1/traces";
  opt.max_queue = 200;
  opt.max_batch = 50;
  opt.shutdown_deadline = 5000ms;
  OtlpSink sink(opt);
  for (uint64_t i = 0; i < 1000; i++) {
    sink.on_span(numbered(i)); // never waits for the network: the consumer keeps up
  }
  // Down: the first attempt fails and is retried after its backoff. Wait
  // for that retry, not for a guess at how long it takes.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sink.stats().retries == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
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
  sink.close();
  const auto s = sink.stats();
  EXPECT_EQ(s.shutdown, 150u);
  EXPECT_EQ(rx.ids().size(), 0u);
}

// A collector that takes the request and never answers: the attempt in
// flight at the deadline is cut, not waited for (its timeout is a minute),
// and its spans are counted as shutdown drops.
TEST(OtlpSink, RequestInFlightIsCutAtTheDeadline) {
  Receiver rx;
  rx.hold_ = true;
  auto opt = fast_options(rx.endpoint());
  opt.batch_delay = 60s; // one request, sent by flush()
  opt.request_timeout = 60s;
  opt.shutdown_deadline = 200ms;
  OtlpSink sink(opt);
  for (uint64_t i = 0; i < 30; i++) {
    sink.on_span(numbered(i));
  }
  sink.flush();
  for (int i = 0; i < 3000 && rx.requests_ == 0; i++) { // hang guard, no timing claim
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(rx.requests_, 1u);
  ::testing::internal::CaptureStderr();
  sink.close(); // returns while the collector still holds the request
  const std::string err = ::testing::internal::GetCapturedStderr();
  rx.release();
  const auto s = sink.stats();
  // Had close() waited for the answer, the held request would have been
  // answered 200 after the 30 s guard and counted as sent. (The collector
  // may still keep what it was sent; kernspan cannot know, so it counts
  // those spans as not delivered.)
  EXPECT_EQ(s.shutdown, 30u);
  EXPECT_EQ(s.sent_spans, 0u);
  EXPECT_EQ(err, "kernspan: otlp: sent 0 spans in 0 requests (0 retries); queue peak 30 of 8192 "
                 "spans\n"
                 "kernspan: otlp: 30 spans not sent by the export timeout (0.2 s) at exit; "
                 "counted as otlp_shutdown\n");
}

} // namespace
} // namespace kernspan::exporters
