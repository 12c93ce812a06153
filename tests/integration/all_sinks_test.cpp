// SPDX-License-Identifier: Apache-2.0
// One capture, every sink: kernspan traces the demo service with -o (JSON
// Lines), --prometheus, --otlp and --zipkin at once. The same span ids
// arrive at the file, the OTLP receiver and the Zipkin receiver, Prometheus
// counts the same spans (and its exemplars name some of them), and nothing
// is dropped. Then the collectors are dead: the file is still complete and
// every span the network sinks could not send is counted in the summary.
#include "harness.hpp"
#include "net.hpp"

#include <csignal>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace kernspan::itest {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// span_name -> kernspan_span_duration_seconds_count, from an exposition.
std::map<std::string, size_t> prometheus_counts(const std::string &metrics) {
  std::map<std::string, size_t> out;
  std::istringstream in(metrics);
  const std::string prefix = "kernspan_span_duration_seconds_count{";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) {
      continue;
    }
    const size_t at = line.find("span_name=\"") + 11;
    out[line.substr(at, line.find('"', at) - at)] = std::stoul(line.substr(line.rfind(' ') + 1));
  }
  return out;
}

// span_id of every exemplar in an OpenMetrics exposition.
std::vector<std::string> exemplar_span_ids(const std::string &metrics) {
  std::vector<std::string> out;
  const std::string key = "span_id=\"";
  for (size_t at = metrics.find(key); at != std::string::npos; at = metrics.find(key, at + 1)) {
    out.push_back(metrics.substr(at + key.size(), 16));
  }
  return out;
}

TEST(AllSinks, SameSpansEverywhereAndNoDrops) {
  KS_REQUIRE_ROOT();
  constexpr int kRequests = 300;
  SpanCollector rx;
  const std::string report = temp_path("report.json");
  const std::string jsonl = temp_path("all.jsonl");
  // The demo lingers after its last request so /metrics can be scraped
  // while kernspan still runs; it exits as soon as the test has done so.
  Proc demo = spawn({DEMO_BIN, "--wait-for-tracer", "--report", report, "--requests",
                     std::to_string(kRequests), "--rate", "1000", "--linger-ms", "20000"});
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q", "-o", jsonl,
                   "--prometheus", "127.0.0.1:0", "--otlp", rx.url(), "--zipkin", rx.url(),
                   "--service", "demo"});
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "attached", 10000)) << slurp(ks.err_path);
  const int port = served_port(slurp(ks.err_path));
  ASSERT_GT(port, 0) << slurp(ks.err_path);

  // Every request is in Prometheus once its root span is counted (children
  // end first); bounded wait, no timing claim.
  std::string metrics;
  for (int i = 0; i < 600; i++) {
    metrics = scrape(port, true);
    const auto counts = prometheus_counts(metrics);
    if (counts.count("handle_request") != 0 && counts.at("handle_request") == kRequests) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  kill(demo.pid, SIGTERM); // end the linger: the demo writes its report and exits
  ASSERT_EQ(wait_exit(demo, 10000), 0);
  ASSERT_EQ(wait_exit(ks, 15000), 0) << slurp(ks.err_path);
  const json rep = json::parse(slurp(report));
  ASSERT_EQ(rep["requests"], kRequests);

  // The file: exactly the app's spans.
  std::set<std::string> ids;
  std::map<std::string, size_t> file_counts;
  for (const auto &s : read_jsonl(jsonl)) {
    EXPECT_TRUE(ids.insert(s["span_id"].get<std::string>()).second) << "duplicate in file";
    file_counts[s["name"]]++;
  }
  EXPECT_EQ(file_counts, report_counts(rep));

  // OTLP and Zipkin: the same ids, each once.
  const auto otlp = rx.otlp();
  const auto zipkin = rx.zipkin();
  EXPECT_EQ(otlp.size(), ids.size());
  EXPECT_EQ(zipkin.size(), ids.size());
  EXPECT_EQ(std::set<std::string>(otlp.begin(), otlp.end()), ids);
  EXPECT_EQ(std::set<std::string>(zipkin.begin(), zipkin.end()), ids);
  EXPECT_EQ(rx.bad(), 0);

  // Prometheus: the same counts, and exemplars that name spans of the file.
  EXPECT_EQ(prometheus_counts(metrics), report_counts(rep)) << metrics.substr(0, 2000);
  const auto exemplars = exemplar_span_ids(metrics);
  EXPECT_FALSE(exemplars.empty());
  for (const auto &id : exemplars) {
    EXPECT_TRUE(ids.count(id)) << "exemplar names an unknown span " << id;
  }

  // Zero drops, and every sink's counters are in the summary.
  const auto drops = summary_drops(slurp(ks.out_path));
  for (const char *place : {"ringbuf_full", "jsonl_write_failed", "otlp_queue_full",
                            "otlp_shutdown", "zipkin_queue_full", "zipkin_shutdown"}) {
    EXPECT_TRUE(drops.count(place)) << place << " missing from " << slurp(ks.out_path);
  }
  for (const auto &[place, n] : drops) {
    EXPECT_EQ(n, 0u) << place;
  }
}

TEST(AllSinks, DeadCollectorsAreCountedWhileTheFileStaysComplete) {
  KS_REQUIRE_ROOT();
  constexpr int kRequests = 400;
  const std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
  const std::string report = temp_path("report.json");
  const std::string jsonl = temp_path("dead.jsonl");
  Proc demo = spawn({DEMO_BIN, "--wait-for-tracer", "--report", report, "--requests",
                     std::to_string(kRequests), "--rate", "0", "--linger-ms", "50"});
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(demo.pid), "-q", "-o", jsonl,
                   "--otlp", dead, "--zipkin", dead});
  ASSERT_EQ(wait_exit(demo, 60000), 0);
  ASSERT_EQ(wait_exit(ks, 30000), 0) << slurp(ks.err_path);
  const json rep = json::parse(slurp(report));
  std::map<std::string, size_t> file_counts;
  size_t total = 0;
  for (const auto &s : read_jsonl(jsonl)) {
    file_counts[s["name"]]++;
    total++;
  }
  EXPECT_EQ(file_counts, report_counts(rep)) << "the consumer kept up";

  const auto drops = summary_drops(slurp(ks.out_path));
  EXPECT_EQ(drops.at("ringbuf_full"), 0u);
  EXPECT_EQ(drops.at("jsonl_write_failed"), 0u);
  for (const std::string sink : {"otlp", "zipkin"}) {
    const uint64_t lost = drops.at(sink + "_queue_full") + drops.at(sink + "_rejected") +
                          drops.at(sink + "_retries_exhausted") + drops.at(sink + "_shutdown");
    EXPECT_EQ(lost, total) << sink << ": every span is counted as dropped, none silently";
    EXPECT_EQ(drops.at(sink + "_rejected"), 0u);
  }
}

} // namespace
} // namespace kernspan::itest
