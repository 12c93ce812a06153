// SPDX-License-Identifier: Apache-2.0
// Zipkin v2: golden JSON, every body checked by tests/checks/zipkin_v2.js
// (the zipkin2 API's span rules, and the zipkin npm package's own model and
// encoder), and the sink against an in-process receiver.
#include "exporters/zipkin.hpp"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <unistd.h>

#include "command.hpp"
#include "http_receiver.hpp"
#include "test_spans.hpp"

namespace kernspan::exporters {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A span on another thread whose name, thread and attribute are not UTF-8,
// incomplete, under a remote parent, and shorter than a microsecond.
core::Span odd_span() {
  core::Span s = testing::child_span();
  s.name = "Bad\xFFName";
  s.thread = "w\xC3\x28";
  s.span_id = 0xA1A2A3A4A5A6A7A8ULL;
  s.parent_span_id = 0x00f067aa0ba902b7ULL;
  s.remote_parent = true;
  s.incomplete = true;
  s.start_unix_nano = testing::kStart;
  s.end_unix_nano = testing::kStart + 100;
  s.attributes = {{"s", std::string("\xC3\x28")}};
  return s;
}

// The body as tests/checks/zipkin_v2.js sees it: {"spans":N,"ids":[...]}.
json check_with_js(const std::string &body) {
  const std::string dir = CHECKS_DIR;
  if (access((dir + "/node_modules/zipkin").c_str(), F_OK) != 0) {
    ADD_FAILURE() << "run `npm ci` in " << dir << " (scripts/test.sh does)";
    return nullptr;
  }
  const std::string file =
      ::testing::TempDir() + "zipkin-body-" + std::to_string(getpid()) + ".json";
  std::ofstream(file) << body;
  std::string cmd = "node " + dir;
  cmd += "/zipkin_v2.js " + file + " 2>&1";
  int status = 0;
  const std::string out = kernspan::testing::run_command(cmd, &status);
  EXPECT_EQ(status, 0) << out;
  std::remove(file.c_str());
  return json::parse(out, nullptr, false);
}

TEST(Zipkin, GoldenSpans) {
  EXPECT_EQ(
      encode_zipkin({testing::root_span(), testing::child_span()}, "demo"),
      R"([{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","id":"1122334455667788","name":"request",)"
      R"("timestamp":1700000000122456,"duration":2501,"localEndpoint":{"serviceName":"demo"},)"
      R"("tags":{"kernspan.cpu_ns":"101","kernspan.ctxsw_involuntary":"116",)"
      R"("kernspan.ctxsw_voluntary":"115","kernspan.io_wait_ns":"104",)"
      R"("kernspan.majflt":"114","kernspan.minflt":"113","kernspan.net_rx_bytes":"111",)"
      R"("kernspan.net_tx_bytes":"110","kernspan.offcpu_ns":"102","kernspan.read_bytes":"108",)"
      R"("kernspan.runq_ns":"103","kernspan.sleep_ns":"105","kernspan.syscall_ns":"107",)"
      R"("kernspan.syscalls":"106","kernspan.tcp_retransmits":"112",)"
      R"("kernspan.write_bytes":"109","thread.id":"1200","thread.name":"server"}},)"
      R"({"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","parentId":"1122334455667788",)"
      R"("id":"00f067aa0ba902b7","name":"parse","timestamp":1700000000123456,"duration":314,)"
      R"("localEndpoint":{"serviceName":"demo"},"tags":{"bytes":"42","ok":"true","path":"/x",)"
      R"("ratio":"0.25","thread.id":"1234","thread.name":"worker"}}])");
  EXPECT_EQ(encode_zipkin({}, "demo"), "[]");
}

TEST(Zipkin, OddSpanFollowsTheModel) {
  const std::string body = encode_zipkin({odd_span()}, "My Service");
  const json j = json::parse(body);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["name"], "Bad\xEF\xBF\xBDName") << "kept as given, UTF-8 repaired";
  EXPECT_EQ(j[0]["duration"], 1) << "under a microsecond rounds up to 1";
  EXPECT_EQ(j[0]["parentId"], "00f067aa0ba902b7") << "a remote parent is a parent";
  EXPECT_EQ(j[0]["tags"]["error"], "thread exited before the span ended");
  EXPECT_EQ(j[0]["tags"]["kernspan.incomplete"], "true");
  EXPECT_EQ(j[0]["tags"]["kernspan.remote_parent"], "true");
  EXPECT_EQ(j[0]["tags"]["s"], "\xEF\xBF\xBD(");
  EXPECT_FALSE(j[0].contains("kind"));
  const json checked = check_with_js(body);
  ASSERT_TRUE(checked.is_object());
  EXPECT_EQ(checked["spans"], 1);
}

TEST(Zipkin, RealisticBatchPassesTheZipkinJsCheck) {
  std::vector<core::Span> spans = {testing::root_span(), testing::child_span(), odd_span()};
  const json checked = check_with_js(encode_zipkin(spans, "demo"));
  ASSERT_TRUE(checked.is_object());
  EXPECT_EQ(checked["ids"],
            json::array({"1122334455667788", "00f067aa0ba902b7", "a1a2a3a4a5a6a7a8"}));
}

using kernspan::testing::numbered;

// A Zipkin receiver on a loopback port whose answers the test scripts.
class Receiver : public kernspan::testing::ScriptedReceiver {
public:
  Receiver() : ScriptedReceiver("/api/v2/spans", 202) { reject_body_ = "bad span"; }
  [[nodiscard]] HttpEndpoint endpoint() const {
    return parse_http_endpoint(origin(), "/api/v2/spans");
  }
};

ZipkinOptions fast_options(const HttpEndpoint &e) {
  ZipkinOptions o;
  o.endpoint = e;
  o.service = "demo";
  kernspan::testing::make_fast(o);
  return o;
}

TEST(ZipkinSink, DeliversEverySpanOnceAsValidBatches) {
  Receiver rx;
  rx.statuses_ = {503}; // one retry first
  ZipkinSink sink(fast_options(rx.endpoint()));
  for (uint64_t i = 0; i < 250; i++) {
    sink.on_span(numbered(i));
  }
  sink.close();
  const auto bodies = rx.bodies();
  ASSERT_GE(bodies.size(), 3u);
  std::vector<std::string> ids;
  for (const auto &b : bodies) {
    const json checked = check_with_js(b);
    ASSERT_TRUE(checked.is_object()) << b.substr(0, 300);
    for (const auto &id : checked["ids"]) {
      ids.push_back(id);
    }
  }
  EXPECT_EQ(ids.size(), 250u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 250u) << "sent twice";
  EXPECT_EQ(rx.types(), std::set<std::string>{"application/json"});
  EXPECT_EQ(sink.stats().retries, 1u);
  core::DropCounts d;
  sink.add_drops(d);
  EXPECT_EQ(d.total(), 0u);
  ASSERT_EQ(d.places.size(), 4u);
  EXPECT_EQ(d.places[0].first, "zipkin_queue_full");
}

TEST(ZipkinSink, RejectedBatchIsCountedUnderZipkin) {
  Receiver rx;
  rx.statuses_ = {400};
  auto opt = fast_options(rx.endpoint());
  opt.max_batch = 10;
  ZipkinSink sink(opt);
  ::testing::internal::CaptureStderr();
  for (uint64_t i = 0; i < 20; i++) {
    sink.on_span(numbered(i));
  }
  sink.close();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("kernspan: zipkin: http://127.0.0.1:", 0), 0u) << err;
  EXPECT_NE(err.find("/api/v2/spans rejected 10 spans (HTTP 400): bad span"), std::string::npos)
      << err;
  core::DropCounts d;
  sink.add_drops(d);
  EXPECT_EQ(d.places[1], (std::pair<std::string, uint64_t>{"zipkin_rejected", 10}));
  EXPECT_EQ(rx.bodies().size(), 1u);
}

TEST(ZipkinSink, DeadServerDropsAreCountedAndBounded) {
  const int port = kernspan::testing::closed_port();
  auto opt = fast_options(
      parse_http_endpoint("http://127.0.0.1:" + std::to_string(port), "/api/v2/spans"));
  opt.max_queue = 50;
  opt.shutdown_deadline = 200ms;
  ZipkinSink sink(opt);
  for (uint64_t i = 0; i < 500; i++) {
    sink.on_span(numbered(i));
  }
  sink.close();
  const auto s = sink.stats();
  EXPECT_LE(s.max_queued, 50u);
  EXPECT_EQ(s.sent_spans, 0u);
  EXPECT_EQ(s.queue_full + s.shutdown + s.retries_exhausted, 500u) << "every span accounted for";
  EXPECT_GE(s.queue_full, 450u);
}

} // namespace
} // namespace kernspan::exporters
