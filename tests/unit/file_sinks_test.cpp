// SPDX-License-Identifier: Apache-2.0
// The -o formats: golden text for each, and independent readers: node's
// JSON.parse for Chrome traces (tests/checks/chrome_trace.js), the
// OpenTelemetry JS decoder for OTLP JSON files (tests/otlp-decoder).
#include "exporters/file_sinks.hpp"
#include "exporters/jsonl.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

#include "command.hpp"
#include "test_spans.hpp"

namespace kernspan::exporters {
namespace {

using kernspan::testing::child_span;
using kernspan::testing::root_span;
using nlohmann::json;

std::string slurp(const std::string &path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

std::string temp(const std::string &stem) {
  return ::testing::TempDir() + "kernspan-files-" + std::to_string(getpid()) + "-" + stem;
}

// stdout of a command, and whether it exited 0.
std::string run(const std::string &cmd, bool *ok) {
  int status = 0;
  std::string out = kernspan::testing::run_command(cmd, &status);
  *ok = status == 0;
  return out;
}

// A span on a third thread of another process, with a name and thread that
// need escaping everywhere, and no costs.
core::Span odd_span() {
  core::Span s = child_span();
  s.name = "a \"b\",c=d\\e\nf\xFF";
  s.thread = "w k,r";
  s.tgid = 77;
  s.tid = 78;
  s.span_id = 0x0102030405060708ULL;
  s.incomplete = true;
  s.attributes.clear();
  return s;
}

TEST(FileFormat, ParsesTheFourNames) {
  EXPECT_EQ(parse_file_format("jsonl"), FileFormat::kJsonl);
  EXPECT_EQ(parse_file_format("otlp-json"), FileFormat::kOtlpJson);
  EXPECT_EQ(parse_file_format("chrome"), FileFormat::kChrome);
  EXPECT_EQ(parse_file_format("influx"), FileFormat::kInflux);
  EXPECT_FALSE(parse_file_format("JSONL"));
  EXPECT_FALSE(parse_file_format(""));
}

TEST(FileSinks, UnwritablePathIsOneLineError) {
  try {
    ChromeTraceSink sink("/nonexistent-dir/x.json", "demo");
    FAIL() << "no exception";
  } catch (const std::runtime_error &e) {
    EXPECT_EQ(std::string(e.what()),
              "chrome: cannot open '/nonexistent-dir/x.json' for writing: No such file or "
              "directory");
  }
  EXPECT_THROW(InfluxSink("/nonexistent-dir/x", "demo"), std::runtime_error);
  EXPECT_THROW(OtlpJsonFileSink("/nonexistent-dir/x", {}), std::runtime_error);
}

// On a full disk every format counts the spans it lost, not its writes,
// and says the file failed.
TEST(FileSinks, FullDiskCountsLostSpans) {
  const auto check = [](Sink &sink, const char *place) {
    for (int i = 0; i < 1000; i++) {
      sink.on_span(child_span());
    }
    sink.flush();
    sink.on_span(root_span());
    sink.close();
    core::DropCounts d;
    sink.add_drops(d);
    EXPECT_EQ(d.places, (decltype(d.places){{place, 1001}}));
    EXPECT_TRUE(sink.write_failed()) << place;
  };
  {
    JsonlSink jsonl("/dev/full");
    check(jsonl, "jsonl_write_failed");
  }
  {
    ChromeTraceSink chrome("/dev/full", "demo");
    check(chrome, "chrome_write_failed");
  }
  {
    InfluxSink influx("/dev/full", "demo");
    check(influx, "influx_write_failed");
  }
  {
    OtlpJsonFileSink otlp("/dev/full", {}, 64);
    check(otlp, "otlp_json_write_failed");
  }
}

TEST(FileSinks, WrittenFileHasNoWriteFailure) {
  const std::string path = temp("ok.influx");
  {
    InfluxSink sink(path, "demo");
    sink.on_span(child_span());
    sink.close();
    EXPECT_FALSE(sink.write_failed());
    core::DropCounts d;
    sink.add_drops(d);
    EXPECT_EQ(d.places, (decltype(d.places){{"influx_write_failed", 0}}));
  }
  std::remove(path.c_str());
}

// A file that fills up mid-record keeps whole records only: the cut one is
// truncated away and counted lost with those after it.
TEST(OutputFile, FileFillingUpKeepsWholeRecords) {
  const std::string path = temp("limit.txt");
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_xfsz = std::signal(SIGXFSZ, SIG_IGN); // EFBIG instead of a signal
  rlimit small = old;
  small.rlim_cur = 1000; // 33 records of 30 bytes, and 10 bytes of the 34th
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  uint64_t lost = 0;
  bool failed = false;
  {
    OutputFile f(path, "test");
    const std::string record = std::string(29, 'x') + "\n";
    for (int i = 0; i < 100; i++) {
      f.write(record, 2);
    }
    f.close();
    lost = f.lost_spans();
    failed = f.failed();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_xfsz);
  EXPECT_TRUE(failed);
  EXPECT_EQ(slurp(path).size(), 990u);
  EXPECT_EQ(lost, 2u * (100 - 33));
  std::remove(path.c_str());
}

// ---- Chrome ---------------------------------------------------------------

TEST(ChromeTrace, GoldenEvents) {
  std::string out;
  ChromeTraceSink::Names names;
  bool first = true;
  ChromeTraceSink::append_events(out, child_span(), "demo", names, first);
  EXPECT_EQ(out,
            R"({"name":"process_name","ph":"M","pid":1200,"args":{"name":"demo"}},)"
            "\n"
            R"({"name":"thread_name","ph":"M","pid":1200,"tid":1234,"args":{"name":"worker"}},)"
            "\n"
            R"({"name":"parse","cat":"span","ph":"X","ts":1700000000123456.789,"dur":312.500,)"
            R"("pid":1200,"tid":1234,"args":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",)"
            R"("span_id":"00f067aa0ba902b7","parent_span_id":"1122334455667788","bytes":42,)"
            R"("ok":true,"path":"/x","ratio":0.25}})");
  EXPECT_FALSE(first);

  out.clear(); // same process, another thread: only its name is new
  ChromeTraceSink::append_events(out, root_span(), "demo", names, first);
  EXPECT_EQ(out,
            ",\n"
            R"({"name":"thread_name","ph":"M","pid":1200,"tid":1200,"args":{"name":"server"}},)"
            "\n"
            R"({"name":"request","cat":"span","ph":"X","ts":1700000000122456.789,)"
            R"("dur":2500.000,"pid":1200,"tid":1200,"args":{)"
            R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"1122334455667788",)"
            R"("costs":{"cpu_ns":101,"offcpu_ns":102,"runq_ns":103,"io_wait_ns":104,)"
            R"("sleep_ns":105,"syscalls":106,"syscall_ns":107,"read_bytes":108,)"
            R"("write_bytes":109,"net_tx_bytes":110,"net_rx_bytes":111,)"
            R"("tcp_retransmits":112,"minflt":113,"majflt":114,"ctxsw_voluntary":115,)"
            R"("ctxsw_involuntary":116}}})");

  out.clear(); // known thread, known name: the span alone
  ChromeTraceSink::append_events(out, root_span(), "demo", names, first);
  EXPECT_EQ(out.find("\"ph\":\"M\""), std::string::npos) << out;
  auto renamed = root_span();
  renamed.thread = "server-2";
  out.clear();
  ChromeTraceSink::append_events(out, renamed, "demo", names, first);
  EXPECT_NE(out.find(R"("tid":1200,"args":{"name":"server-2"})"), std::string::npos) << out;
}

// The whole file, read by node's JSON.parse and checked event by event.
TEST(ChromeTrace, FileParsesInNodeWithNamedTracksAndNestedSpans) {
  const std::string path = temp("trace.json");
  auto child = child_span(); // on the root's thread
  child.tid = 1200;
  child.thread = "server";
  {
    ChromeTraceSink sink(path, "demo");
    sink.on_span(child); // children end first
    sink.on_span(root_span());
    sink.on_span(odd_span());
    // no close(): the destructor writes the closing bracket, as an
    // interrupted trace does on its way out
  }
  const std::string text = slurp(path);
  EXPECT_EQ(text.rfind("{\"traceEvents\":[\n", 0), 0u);
  EXPECT_EQ(text.substr(text.size() - 4), "\n]}\n");
  EXPECT_EQ(lines_of(text).size(), 9u) << "one event per line: " << text;

  bool ok = false;
  const std::string out = run("node " CHECKS_DIR "/chrome_trace.js " + path, &ok);
  ASSERT_TRUE(ok) << out;
  const json summary = json::parse(out);
  EXPECT_EQ(summary["events"], 7);
  EXPECT_EQ(summary["threads"], 2);
  EXPECT_EQ(summary["processes"], 2);
  EXPECT_EQ(summary["nested"], 1) << "parse nests inside request";
  ASSERT_EQ(summary["spans"].size(), 3u);
  const json &odd = summary["spans"][2];
  EXPECT_EQ(odd["name"], "a \"b\",c=d\\e\nf\xEF\xBF\xBD");
  EXPECT_EQ(odd["pid"], 77);
  EXPECT_EQ(summary["spans"][1]["costs"]["cpu_ns"], 101);
  EXPECT_DOUBLE_EQ(summary["spans"][0]["dur"].get<double>(), 312.5);
  std::remove(path.c_str());
}

TEST(ChromeTrace, EmptyTraceIsStillValidJson) {
  const std::string path = temp("empty.json");
  {
    ChromeTraceSink sink(path, "demo");
    sink.close();
    sink.on_span(child_span()); // after close: counted, not written
    core::DropCounts d;
    sink.add_drops(d);
    EXPECT_EQ(d.places, (decltype(d.places){{"chrome_write_failed", 1}}));
  }
  EXPECT_EQ(slurp(path), "{\"traceEvents\":[\n\n]}\n");
  EXPECT_TRUE(json::accept(slurp(path)));
  std::remove(path.c_str());
}

// ---- InfluxDB line protocol -----------------------------------------------

TEST(Influx, GoldenLines) {
  std::string out;
  InfluxSink::append_line(out, child_span(), "demo");
  EXPECT_EQ(out, "kernspan_span,service=demo,span_name=parse,thread=worker "
                 "duration_ns=312500i,trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\","
                 "span_id=\"00f067aa0ba902b7\",parent_span_id=\"1122334455667788\","
                 "tgid=1200i,tid=1234i 1700000000123769289\n");
  out.clear();
  InfluxSink::append_line(out, root_span(), "my svc");
  EXPECT_EQ(out, "kernspan_span,service=my\\ svc,span_name=request,thread=server "
                 "duration_ns=2500000i,trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\","
                 "span_id=\"1122334455667788\",parent_span_id=\"\",tgid=1200i,tid=1200i,"
                 "cpu_ns=101i,offcpu_ns=102i,runq_ns=103i,io_wait_ns=104i,sleep_ns=105i,"
                 "syscalls=106i,syscall_ns=107i,read_bytes=108i,write_bytes=109i,"
                 "net_tx_bytes=110i,net_rx_bytes=111i,tcp_retransmits=112i,minflt=113i,"
                 "majflt=114i,ctxsw_voluntary=115i,ctxsw_involuntary=116i 1700000000124956789\n");
}

TEST(Influx, EscapesTagsPerLineProtocolAndStaysOnOneLine) {
  EXPECT_EQ(InfluxSink::escape_tag_value("a b,c=d"), "a\\ b\\,c\\=d");
  EXPECT_EQ(InfluxSink::escape_tag_value("tail\\"), "tail?") << "no backslash can end a tag";
  EXPECT_EQ(InfluxSink::escape_tag_value("x\ny\tz"), "x?y?z");
  EXPECT_EQ(InfluxSink::escape_tag_value("caf\xC3\xA9\xFF"), "caf\xC3\xA9\xEF\xBF\xBD");
  std::string out;
  auto s = odd_span();
  s.thread = "";
  InfluxSink::append_line(out, s, "demo");
  EXPECT_EQ(out, "kernspan_span,service=demo,span_name=a\\ \"b\"\\,c\\=d?e?f\xEF\xBF\xBD "
                 "duration_ns=312500i,trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\","
                 "span_id=\"0102030405060708\",parent_span_id=\"1122334455667788\","
                 "tgid=77i,tid=78i,incomplete=true 1700000000123769289\n")
      << "empty thread tag left out";
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST(Influx, FileHasOneLinePerSpan) {
  const std::string path = temp("spans.lp");
  {
    InfluxSink sink(path, "demo");
    sink.on_span(child_span());
    sink.on_span(root_span());
    sink.close();
  }
  const auto lines = lines_of(slurp(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("kernspan_span,service=demo,span_name=parse,", 0), 0u);
  std::remove(path.c_str());
}

// ---- OTLP JSON --------------------------------------------------------------

const Attributes kResource = {{"service.name", std::string("demo")},
                              {"process.pid", int64_t{1200}}};

TEST(OtlpJsonFile, OneRequestPerLineInBatches) {
  const std::string path = temp("otlp.jsonl");
  {
    OtlpJsonFileSink sink(path, kResource, 2);
    sink.on_span(root_span());
    sink.on_span(child_span()); // a full batch: line 1
    sink.on_span(odd_span());
    sink.flush(); // the partial batch: line 2
    sink.flush(); // nothing new: no empty request
    sink.on_span(child_span());
  } // close: line 3
  const auto lines = lines_of(slurp(path));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], encode_otlp({root_span(), child_span()}, kResource, OtlpEncoding::kJson));
  EXPECT_EQ(lines[1], encode_otlp({odd_span()}, kResource, OtlpEncoding::kJson));
  EXPECT_EQ(lines[2], encode_otlp({child_span()}, kResource, OtlpEncoding::kJson));

  // Each line, decoded by the OpenTelemetry JS package's generated code.
  const std::string dir = OTLP_DECODER_DIR;
  ASSERT_EQ(access((dir + "/node_modules/@opentelemetry/otlp-transformer").c_str(), F_OK), 0)
      << "run `npm ci` in " << dir << " (scripts/test.sh does)";
  std::vector<std::string> ids;
  for (size_t i = 0; i < lines.size(); i++) {
    const std::string one = temp("line" + std::to_string(i) + ".json");
    std::ofstream(one) << lines[i];
    bool ok = false;
    std::string cmd = "node " + dir;
    cmd += "/decode.js json " + one;
    const std::string out = run(cmd, &ok);
    ASSERT_TRUE(ok) << lines[i];
    const json req = json::parse(out);
    const json &rs = req["resourceSpans"][0];
    EXPECT_EQ(rs["resource"]["attributes"][0]["value"]["stringValue"], "demo");
    for (const auto &s : rs["scopeSpans"][0]["spans"]) {
      ids.push_back(s["spanId"]);
      EXPECT_EQ(s["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    }
    std::remove(one.c_str());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"1122334455667788", "00f067aa0ba902b7",
                                           "0102030405060708", "00f067aa0ba902b7"}));
  std::remove(path.c_str());
}

} // namespace
} // namespace kernspan::exporters
