// SPDX-License-Identifier: Apache-2.0
// One capture, every sink: kernspan traces the demo service with -o (JSON
// Lines), --prometheus, --otlp and --zipkin at once. The same span ids
// arrive at the file, the OTLP receiver and the Zipkin receiver, Prometheus
// counts the same spans (and its exemplars name some of them), and nothing
// is dropped. Then the collectors are dead: the file is still complete and
// every span the network sinks could not send is counted in the summary.
#include "harness.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <httplib.h>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <set>
#include <sstream>
#include <sys/socket.h>
#include <thread>

#include "otlp_trace.pb.h"

namespace kernspan::itest {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A loopback port nobody listens on right now.
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

// OTLP/HTTP (protobuf) and Zipkin v2 on one loopback server; records the
// span ids each received, in order of arrival.
class Receivers {
public:
  Receivers() {
    server_.Post("/v1/traces", [this](const httplib::Request &req, httplib::Response &res) {
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
    server_.Post("/api/v2/spans", [this](const httplib::Request &req, httplib::Response &res) {
      const json body = json::parse(req.body, nullptr, false);
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
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) {
      std::this_thread::sleep_for(1ms);
    }
  }
  ~Receivers() {
    server_.stop();
    thread_.join();
  }
  Receivers(const Receivers &) = delete;
  Receivers &operator=(const Receivers &) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::vector<std::string> otlp() const {
    std::lock_guard lock(mu_);
    return otlp_;
  }
  [[nodiscard]] std::vector<std::string> zipkin() const {
    std::lock_guard lock(mu_);
    return zipkin_;
  }
  [[nodiscard]] int bad() const {
    std::lock_guard lock(mu_);
    return bad_;
  }

private:
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> otlp_;
  std::vector<std::string> zipkin_;
  int bad_ = 0;
};

// The port kernspan printed in "serving metrics on http://127.0.0.1:PORT/metrics".
int served_port(const std::string &err) {
  const std::string marker = "serving metrics on http://127.0.0.1:";
  const size_t at = err.find(marker);
  return at == std::string::npos ? -1 : std::atoi(err.c_str() + at + marker.size());
}

std::string scrape(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  const auto res = c.Get("/metrics", {{"Accept", "application/openmetrics-text; version=1.0.0"}});
  return res && res->status == 200 ? res->body : "";
}

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

// place -> count from the summary's "drops: a=1 b=2 (total 3)" line.
std::map<std::string, uint64_t> summary_drops(const std::string &summary) {
  std::map<std::string, uint64_t> out;
  const size_t at = summary.find("drops:");
  std::istringstream in(summary.substr(at + 6, summary.find('\n', at) - at - 6));
  for (std::string word; in >> word;) {
    const size_t eq = word.find('=');
    if (eq != std::string::npos) {
      out[word.substr(0, eq)] = std::stoull(word.substr(eq + 1));
    }
  }
  return out;
}

std::map<std::string, size_t> report_counts(const json &report) {
  std::map<std::string, size_t> out;
  for (const auto &[name, st] : report["spans"].items()) {
    out[name] = st["count"].get<size_t>();
  }
  return out;
}

TEST(AllSinks, SameSpansEverywhereAndNoDrops) {
  KS_REQUIRE_ROOT();
  constexpr int kRequests = 300;
  Receivers rx;
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
    metrics = scrape(port);
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
