// SPDX-License-Identifier: Apache-2.0
#include "cli/sinks.hpp"

#include "exporters/file_sinks.hpp"
#include "exporters/jsonl.hpp"
#include "probe/proc_maps.hpp"
#include "probe/proc_stats.hpp"

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace kernspan::cli {

namespace {

// An empty value would mean "no such sink" and be silently ignored: refuse
// it (a shell variable that was not set, for instance).
CLI::Validator non_empty(const std::string &what) {
  return CLI::Validator(
      [what](const std::string &v) {
        return v.empty() ? "the value is empty: give " + what + ", or leave the flag out"
                         : std::string();
      },
      "");
}

} // namespace

void add_sink_options(CLI::App &cmd, SinkOptions &o) {
  auto *output = cmd.add_option("-o,--output", o.output, "write spans to FILE (see --format)")
                     ->check(non_empty("a file name"));
  cmd.add_option("--format", o.format,
                 "format of -o FILE: jsonl (JSON Lines), otlp-json (OTLP/JSON requests, one per "
                 "line, as the OpenTelemetry Collector's file receiver reads), chrome (Chrome "
                 "Trace Event JSON for Perfetto UI), influx (InfluxDB line protocol)")
      ->check(CLI::IsMember({"jsonl", "otlp-json", "chrome", "influx"}))
      ->needs(output)
      ->capture_default_str();
  cmd.add_option("--prometheus", o.prometheus,
                 "serve Prometheus metrics on [ADDR:]PORT/metrics (ADDR defaults to "
                 "127.0.0.1; PORT 0 picks a free port)")
      ->check(non_empty("[ADDR:]PORT (e.g. 9464)"));
  cmd.add_option("--service", o.service, "service name on exported data (default: process name)");
  cmd.add_option("--max-span-names", o.max_span_names,
                 "distinct span names with their own summary row and metric series; spans of "
                 "more names are counted under __overflow__")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd.add_option("--max-threads", o.max_threads,
                 "threads with their own per-thread metric series; more are summed per process "
                 "under tid __overflow__ (and processes past this many pids under pid "
                 "__overflow__)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd.add_option("--otlp", o.otlp,
                 "push spans as OTLP/HTTP to URL (e.g. http://localhost:4318; /v1/traces is "
                 "appended unless URL has a path); default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT")
      ->check(non_empty("a URL (e.g. http://localhost:4318)"));
  cmd.add_option("--otlp-encoding", o.otlp_encoding, "OTLP body encoding")
      ->check(CLI::IsMember({"protobuf", "json"}))
      ->capture_default_str();
  cmd.add_flag("--otlp-gzip", o.otlp_gzip, "gzip OTLP request bodies");
  cmd.add_option("--zipkin", o.zipkin,
                 "post spans as Zipkin v2 JSON to URL (e.g. http://localhost:9411; /api/v2/spans "
                 "is appended unless URL has a path)")
      ->check(non_empty("a URL (e.g. http://localhost:9411)"));
  cmd.add_option("--export-timeout", o.export_timeout_s,
                 "seconds the final flush of --otlp/--zipkin may take at exit; spans not sent "
                 "by then are counted as dropped (<sink>_shutdown)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
}

namespace {

std::chrono::milliseconds export_timeout(const SinkOptions &o) {
  return std::chrono::milliseconds(std::llround(o.export_timeout_s * 1000.0));
}

std::string read_file(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// OpenTelemetry's process and host resource attributes for the target.
exporters::Attributes resource_of(pid_t pid, const std::string &service) {
  exporters::Attributes r;
  r.emplace_back("service.name", service);
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) {
    r.emplace_back("host.name", std::string(host));
  }
  r.emplace_back("process.pid", int64_t{pid});
  const std::string proc = "/proc/" + std::to_string(pid);
  char exe[PATH_MAX] = {};
  const ssize_t n = readlink((proc + "/exe").c_str(), exe, sizeof(exe) - 1);
  std::string exe_name = probe::comm(pid);
  if (n > 0) {
    const std::string path(exe, static_cast<size_t>(n));
    exe_name = path.substr(path.rfind('/') + 1);
    r.emplace_back("process.executable.path", path);
  }
  r.emplace_back("process.executable.name", exe_name);
  std::string cmdline = read_file(proc + "/cmdline");
  while (!cmdline.empty() && cmdline.back() == '\0') {
    cmdline.pop_back();
  }
  for (auto &c : cmdline) {
    c = c == '\0' ? ' ' : c;
  }
  if (!cmdline.empty()) {
    r.emplace_back("process.command_line", cmdline);
  }
  return r;
}

} // namespace

std::string otlp_traces_url(const std::string &flag, std::string *source) {
  const std::string signal_path = "/v1/traces";
  if (!flag.empty()) {
    *source = "--otlp";
    return exporters::parse_http_endpoint(flag, signal_path).url();
  }
  if (const char *t = std::getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); t && *t) {
    *source = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    return exporters::parse_http_endpoint(t, "/").url(); // used as is
  }
  if (const char *b = std::getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); b && *b) {
    *source = "OTEL_EXPORTER_OTLP_ENDPOINT";
    std::string base = b;
    while (!base.empty() && base.back() == '/') {
      base.pop_back();
    }
    // The spec appends the signal path to the base, whatever path it has.
    const auto e = exporters::parse_http_endpoint(base, "");
    return e.origin() + e.path + signal_path;
  }
  return "";
}

void validate_sink_options(const SinkOptions &o) {
  if (!exporters::parse_file_format(o.format)) {
    throw std::runtime_error("unknown --format '" + o.format +
                             "': use jsonl, otlp-json, chrome or influx");
  }
  if (!o.prometheus.empty()) {
    (void)exporters::parse_listen_address(o.prometheus);
  }
  std::string source;
  const std::string otlp_url = otlp_traces_url(o.otlp, &source);
  if (!otlp_url.empty()) {
    exporters::require_resolvable(exporters::parse_http_endpoint(otlp_url, "/v1/traces"));
  }
  if (!o.zipkin.empty()) {
    exporters::require_resolvable(exporters::parse_http_endpoint(o.zipkin, "/api/v2/spans"));
  }
}

SinkSet make_sinks(const SinkOptions &o, const std::vector<pid_t> &pids,
                   std::vector<std::unique_ptr<exporters::Sink>> &sinks) {
  SinkSet set;
  set.sinks_ = &sinks;
  set.targets_ = pids;
  const pid_t pid = pids.empty() ? 0 : pids[0]; // --binary with none running yet
  const std::string service = o.service.empty() ? probe::comm(pid) : o.service;
  if (!o.output.empty()) {
    const auto format = exporters::parse_file_format(o.format);
    if (!format) {
      throw std::runtime_error("unknown --format '" + o.format +
                               "': use jsonl, otlp-json, chrome or influx");
    }
    switch (*format) {
    case exporters::FileFormat::kJsonl:
      sinks.push_back(std::make_unique<exporters::JsonlSink>(o.output));
      break;
    case exporters::FileFormat::kOtlpJson:
      sinks.push_back(
          std::make_unique<exporters::OtlpJsonFileSink>(o.output, resource_of(pid, service)));
      break;
    case exporters::FileFormat::kChrome:
      sinks.push_back(std::make_unique<exporters::ChromeTraceSink>(o.output, service));
      break;
    case exporters::FileFormat::kInflux:
      sinks.push_back(std::make_unique<exporters::InfluxSink>(o.output, service));
      break;
    }
  }
  if (!o.prometheus.empty()) {
    const auto addr = exporters::parse_listen_address(o.prometheus);
    auto prom = std::make_unique<exporters::PrometheusSink>(
        exporters::PrometheusOptions{service, o.max_span_names, o.max_threads});
    set.server_ = exporters::net_api().make_metrics_server(addr, *prom);
    set.prometheus_ = prom.get();
    sinks.push_back(std::move(prom));
    std::fprintf(stderr, "kernspan: serving metrics on %s\n", set.server_->url().c_str());
  }
  std::string source;
  const std::string otlp_url = o.spans ? otlp_traces_url(o.otlp, &source) : "";
  if (!otlp_url.empty()) {
    exporters::OtlpOptions opt;
    opt.endpoint = exporters::parse_http_endpoint(otlp_url, "/v1/traces");
    exporters::require_resolvable(opt.endpoint);
    opt.encoding = o.otlp_encoding == "json" ? exporters::OtlpEncoding::kJson
                                             : exporters::OtlpEncoding::kProtobuf;
    opt.gzip = o.otlp_gzip;
    opt.shutdown_deadline = export_timeout(o);
    opt.resource = resource_of(pid, service);
    sinks.push_back(exporters::net_api().make_otlp(opt));
    std::fprintf(stderr, "kernspan: sending OTLP traces to %s (%s, from %s)\n", otlp_url.c_str(),
                 o.otlp_encoding.c_str(), source.c_str());
  }
  if (!o.zipkin.empty()) {
    exporters::ZipkinOptions opt;
    opt.endpoint = exporters::parse_http_endpoint(o.zipkin, "/api/v2/spans");
    exporters::require_resolvable(opt.endpoint);
    opt.service = service;
    opt.shutdown_deadline = export_timeout(o);
    std::fprintf(stderr, "kernspan: sending Zipkin spans to %s\n", opt.endpoint.url().c_str());
    sinks.push_back(exporters::net_api().make_zipkin(opt));
  }
  return set;
}

void close_all(std::vector<std::unique_ptr<exporters::Sink>> &sinks) {
  std::vector<std::thread> closers;
  closers.reserve(sinks.size());
  for (auto &sink : sinks) {
    closers.emplace_back([s = sink.get()] { s->close(); });
  }
  for (auto &t : closers) {
    t.join();
  }
}

core::DropCounts SinkSet::all_drops(const core::DropCounts &collector_drops) const {
  core::DropCounts all = collector_drops;
  if (sinks_ != nullptr) {
    for (const auto &s : *sinks_) {
      s->add_drops(all);
    }
  }
  return all;
}

void SinkSet::update_aggregates(const std::vector<core::SpanAggregate> &aggregates) {
  if (prometheus_ != nullptr) {
    prometheus_->set_aggregates(aggregates);
  }
}

void SinkSet::update_health(collect::Collector &collector) {
  if (prometheus_ == nullptr) {
    return;
  }
  exporters::Health h;
  h.records_received = collector.records();
  h.drops = all_drops(collector.drops());
  h.ringbuf = collector.ringbuf_fill();
  h.bpf_stats_enabled = collector.bpf_stats_enabled();
  h.programs = collector.program_stats();
  for (const pid_t pid : targets_) {
    if (auto u = probe::read_process_usage(pid)) {
      h.processes.push_back(*u);
    }
  }
  prometheus_->set_health(h);
  if (read_threads_) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    prometheus_->update_threads(
        collector.threads(),
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
  }
}

} // namespace kernspan::cli
