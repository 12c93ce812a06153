// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "exporters/jsonl.hpp"
#include "test_spans.hpp"

namespace kernspan::exporters {
namespace {

using kernspan::testing::child_span;
using kernspan::testing::root_span;
using nlohmann::json;

const std::set<std::string> kBaseKeys{
    "name",          "trace_id", "span_id", "parent_span_id", "start_unix_nano",
    "end_unix_nano", "tgid",     "tid",     "thread",         "attributes"};

std::set<std::string> keys_of(const json &j) {
  std::set<std::string> keys;
  for (const auto &item : j.items()) {
    keys.insert(item.key());
  }
  return keys;
}

std::vector<std::string> read_lines(const std::string &path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

TEST(JsonlSink, GoldenChildLine) {
  EXPECT_EQ(JsonlSink::format_line(child_span()),
            R"({"name":"parse","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",)"
            R"("span_id":"00f067aa0ba902b7","parent_span_id":"1122334455667788",)"
            R"("start_unix_nano":1700000000123456789,"end_unix_nano":1700000000123769289,)"
            R"("tgid":1200,"tid":1234,"thread":"worker",)"
            R"("attributes":{"bytes":42,"ok":true,"path":"/x","ratio":0.25}})");
}

TEST(JsonlSink, ChildHasExactlyTheBaseKeysAndTypedAttributes) {
  const json j = json::parse(JsonlSink::format_line(child_span()));
  EXPECT_EQ(keys_of(j), kBaseKeys);
  EXPECT_TRUE(j["attributes"]["bytes"].is_number_integer());
  EXPECT_TRUE(j["attributes"]["ok"].is_boolean());
  EXPECT_TRUE(j["attributes"]["path"].is_string());
  EXPECT_TRUE(j["attributes"]["ratio"].is_number_float());
  EXPECT_TRUE(j["start_unix_nano"].is_number_unsigned());
}

TEST(JsonlSink, RootWithCostsHasEmptyParentAndEveryCostKey) {
  const json j = json::parse(JsonlSink::format_line(root_span()));
  auto expected_keys = kBaseKeys;
  expected_keys.insert("costs");
  EXPECT_EQ(keys_of(j), expected_keys);
  EXPECT_EQ(j["parent_span_id"], "");
  EXPECT_EQ(j["span_id"], "1122334455667788");
  EXPECT_EQ(j["attributes"], json::object());

  const std::vector<std::string> cost_keys{
      "cpu_ns",      "offcpu_ns",    "runq_ns",         "io_wait_ns",
      "sleep_ns",    "syscalls",     "syscall_ns",      "read_bytes",
      "write_bytes", "net_tx_bytes", "net_rx_bytes",    "tcp_retransmits",
      "minflt",      "majflt",       "ctxsw_voluntary", "ctxsw_involuntary"};
  // ordered_json keeps the order the keys were written in.
  const auto ordered = nlohmann::ordered_json::parse(JsonlSink::format_line(root_span()));
  const auto &costs = ordered["costs"];
  ASSERT_EQ(costs.size(), cost_keys.size());
  uint64_t expected = 101;
  size_t i = 0;
  for (const auto &item : costs.items()) { // written in for_each_cost order
    EXPECT_EQ(item.key(), cost_keys[i++]);
    EXPECT_TRUE(item.value().is_number_unsigned()) << item.key();
    EXPECT_EQ(item.value().get<uint64_t>(), expected++) << item.key();
  }
}

TEST(JsonlSink, IncompleteAndRemoteParentFlags) {
  auto s = child_span();
  s.incomplete = true;
  s.remote_parent = true;
  s.attributes.clear();
  const json j = json::parse(JsonlSink::format_line(s));
  EXPECT_EQ(keys_of(j), kBaseKeys);
  EXPECT_EQ(j["attributes"],
            (json{{"kernspan.incomplete", true}, {"kernspan.remote_parent", true}}));
  EXPECT_EQ(j["parent_span_id"], "1122334455667788");
}

TEST(JsonlSink, InvalidUtf8BecomesReplacementCharacter) {
  auto s = child_span();
  s.name = "bad\xff name";
  s.thread = "t\xc3";
  s.attributes = {{"k\xfe", std::string("v\x80")}};
  const std::string line = JsonlSink::format_line(s);
  const json j = json::parse(line); // throws if the line is not valid JSON
  EXPECT_EQ(j["name"], "bad\xef\xbf\xbd name");
  EXPECT_EQ(j["thread"], "t\xef\xbf\xbd");
  EXPECT_EQ(j["attributes"], (json{{"k\xef\xbf\xbd", "v\xef\xbf\xbd"}}));
}

TEST(JsonlSink, WritesOneParsableLinePerSpan) {
  const std::string path = ::testing::TempDir() + "kernspan_jsonl_test.jsonl";
  {
    JsonlSink sink(path);
    sink.on_span(child_span());
    sink.on_span(root_span());
    auto bad = child_span();
    bad.name = "\xff";
    sink.on_span(bad);
    sink.flush();
    EXPECT_EQ(read_lines(path).size(), 3U); // flush makes them visible
    sink.close();
    EXPECT_EQ(sink.lost_spans(), 0U);
    sink.on_span(child_span()); // after close: counted, not written
    EXPECT_EQ(sink.lost_spans(), 1U);
  }
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0], JsonlSink::format_line(child_span()));
  EXPECT_EQ(json::parse(lines[1])["name"], "request");
  EXPECT_EQ(json::parse(lines[2])["name"], "\xef\xbf\xbd");
  std::remove(path.c_str());
}

TEST(JsonlSink, UnopenablePathThrowsOneLineMessage) {
  const std::string path = "/nonexistent-kernspan-dir/out.jsonl";
  try {
    JsonlSink sink(path);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error &e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

} // namespace
} // namespace kernspan::exporters
