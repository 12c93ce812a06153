// SPDX-License-Identifier: Apache-2.0
// The configuration file of `kernspan serve`: YAML (read with libyaml, so
// JSON, which is YAML's flow style, works too).
//
//   service: checkout            # service.name / service_name (optional)
//   ringbuf_mb: 8                # optional, power of two (default 4)
//   targets:                     # at least one
//     - pid: 4242
//     - binary: /usr/local/bin/checkout   # every process running it now
//   probes:                      # optional, what `trace` takes as flags
//     uprobe:                    # --uprobe: spans from functions
//       - 'libc:malloc,args=1'
//     max_uprobes: 1000          # --max-probes
//     span:                      # --span: spans from two USDT probes
//       - 'app:req_start..app:req_done,id=arg0'
//     usdt: ['app:cache_miss']   # --usdt: count a probe's hits
//     costs: true                # false: --no-costs
//   mode: sample                 # optional: trace (default), sample or stats
//   sample_rate: 0.1             # with mode: sample
//   min_duration: 2ms            # optional, filtered in the kernel
//   span_timeout: 5m             # optional: open spans reported incomplete after it
//   max_string: 256              # optional: bytes kept of each string read, 1-4096
//   span_timeout: 5m             # optional: open spans reported incomplete after it
//   max_spans_per_second: 5000   # optional, in userspace
//   sinks:                       # at least one
//     prometheus: 127.0.0.1:9464
//     max_span_names: 1000
//     max_threads: 256           # --max-threads
//     otlp: http://localhost:4318
//     otlp_encoding: protobuf    # or json
//     otlp_gzip: false
//     zipkin: http://localhost:9411
//     output: /var/log/kernspan/spans.jsonl
//     format: jsonl              # or otlp-json, chrome, influx
//     export_timeout: 1          # seconds the final flush may take at exit
//
// Unknown keys are errors (a typo must not silently disable a sink).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kernspan::cli {

// A configuration the user can fix; what() is one line naming the file and
// the line.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct ServeConfig {
  std::string service;
  uint32_t ringbuf_mb = 4;
  std::vector<pid_t> pids;
  std::vector<std::string> binaries;
  // probes
  std::vector<std::string> uprobes;
  size_t max_uprobes = 1000;
  std::vector<std::string> spans;
  std::vector<std::string> usdts;
  bool costs = true;
  // modes (the trace flags of the same names)
  std::string mode = "trace"; // trace, sample or stats
  double sample_rate = 0;     // 0: not given
  std::string min_duration;   // "2ms"; "" : none
  std::string span_timeout;   // "30s"; "" : none
  uint64_t max_spans_per_second = 0;
  uint32_t max_string = 256; // bytes kept of each string read from a target (--max-string)
  // sinks
  std::string prometheus;
  size_t max_span_names = 1000;
  size_t max_threads = 256;
  std::string otlp;
  std::string otlp_encoding = "protobuf";
  bool otlp_gzip = false;
  std::string zipkin;
  std::string output;
  std::string format = "jsonl";
  double export_timeout_s = 1.0;
};

// Parses `text`; `name` (the file) prefixes every error.
ServeConfig parse_config(const std::string &text, const std::string &name);
// Reads and parses FILE; a .toml FILE is refused with a clear error (only
// YAML and JSON are read).
ServeConfig load_config(const std::string &path);

} // namespace kernspan::cli
