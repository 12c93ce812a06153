// SPDX-License-Identifier: Apache-2.0
// kernspan serve's configuration: YAML and JSON, and one-line errors that
// name the file and line.
#include "cli/config.hpp"
#include "probe/span_spec.hpp"

#include <gtest/gtest.h>

namespace kernspan::cli {
namespace {

TEST(Config, ParsesEveryKeyFromYaml) {
  const ServeConfig c = parse_config(R"(# kernspan serve
service: checkout
ringbuf_mb: 8
max_string: 1024
targets:
  - pid: 4242
  - binary: /usr/local/bin/checkout
  - pid: 7
probes:
  uprobe:
    - 'libksfn:ksfn_*,args=2'
    - 'libc:malloc'
  max_uprobes: 20
  span: ['app:begin..app:end,id=arg0']
  usdt: app:hit
  costs: false
sinks:
  prometheus: 127.0.0.1:9464
  max_span_names: 50
  max_threads: 9
  otlp: http://localhost:4318
  otlp_encoding: json
  otlp_gzip: true
  zipkin: http://localhost:9411
  output: /tmp/spans.json
  format: chrome
  export_timeout: 0.25
)",
                                     "k.yaml");
  EXPECT_EQ(c.service, "checkout");
  EXPECT_EQ(c.ringbuf_mb, 8u);
  EXPECT_EQ(c.max_string, 1024u);
  EXPECT_EQ(c.pids, (std::vector<pid_t>{4242, 7}));
  EXPECT_EQ(c.binaries, (std::vector<std::string>{"/usr/local/bin/checkout"}));
  EXPECT_EQ(c.prometheus, "127.0.0.1:9464");
  EXPECT_EQ(c.max_span_names, 50u);
  EXPECT_EQ(c.max_threads, 9u);
  EXPECT_EQ(c.otlp, "http://localhost:4318");
  EXPECT_EQ(c.otlp_encoding, "json");
  EXPECT_TRUE(c.otlp_gzip);
  EXPECT_EQ(c.zipkin, "http://localhost:9411");
  EXPECT_EQ(c.output, "/tmp/spans.json");
  EXPECT_EQ(c.format, "chrome");
  EXPECT_EQ(c.export_timeout_s, 0.25);
  EXPECT_EQ(c.uprobes, (std::vector<std::string>{"libksfn:ksfn_*,args=2", "libc:malloc"}));
  EXPECT_EQ(c.max_uprobes, 20u);
  EXPECT_EQ(c.spans, (std::vector<std::string>{"app:begin..app:end,id=arg0"}));
  EXPECT_EQ(c.usdts, (std::vector<std::string>{"app:hit"})) << "one string is a list of one";
  EXPECT_FALSE(c.costs);
}

TEST(Config, JsonIsAcceptedAndDefaultsApply) {
  const ServeConfig c =
      parse_config(R"({"targets": [{"pid": 12}], "sinks": {"prometheus": "9464"}})", "k.json");
  EXPECT_EQ(c.pids, (std::vector<pid_t>{12}));
  EXPECT_EQ(c.prometheus, "9464");
  EXPECT_EQ(c.ringbuf_mb, 4u);
  EXPECT_EQ(c.max_string, 256u);
  EXPECT_EQ(c.format, "jsonl");
  EXPECT_EQ(c.otlp_encoding, "protobuf");
  EXPECT_TRUE(c.service.empty());
  EXPECT_EQ(c.export_timeout_s, 1.0);
  EXPECT_TRUE(c.uprobes.empty());
  EXPECT_EQ(c.max_uprobes, 1000u);
  EXPECT_TRUE(c.spans.empty());
  EXPECT_TRUE(c.usdts.empty());
  EXPECT_TRUE(c.costs);
}

std::string error_of(const std::string &text) {
  try {
    parse_config(text, "k.yaml");
  } catch (const ConfigError &e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Config, BadConfigsAreOneLineErrorsWithTheLine) {
  const std::string ok_sinks = "sinks: {prometheus: '9464'}\n";
  EXPECT_EQ(error_of(""), "k.yaml: empty configuration: needs targets and sinks");
  EXPECT_EQ(error_of("targets: [{pid: 1}\n"), "k.yaml: line 2: did not find expected ',' or ']'");
  EXPECT_EQ(
      error_of("targets: [{pid: 1}]\nsinks: {promethus: '1'}\n"),
      "k.yaml: line 2: unknown key 'promethus' in sinks (known: export_timeout, format, "
      "max_span_names, max_threads, otlp, otlp_encoding, otlp_gzip, output, prometheus, zipkin)");
  EXPECT_EQ(error_of(ok_sinks), "k.yaml: line 1: no targets: add targets: [{pid: N}] or "
                                "[{binary: PATH}]");
  EXPECT_EQ(error_of("targets: []\n" + ok_sinks),
            "k.yaml: line 1: no targets: add targets: [{pid: N}] or [{binary: PATH}]");
  EXPECT_EQ(error_of("targets: {pid: 1}\n" + ok_sinks),
            "k.yaml: line 1: targets must be a list, e.g. targets: [{pid: 4242}]");
  EXPECT_EQ(error_of("targets: [{pid: x}]\n" + ok_sinks),
            "k.yaml: line 1: pid must be a whole number, not 'x'");
  EXPECT_EQ(error_of("targets: [{pid: '12'}]\n" + ok_sinks),
            "k.yaml: line 1: pid must be a whole number, not '12'")
      << "a quoted number is a string";
  EXPECT_EQ(error_of("targets: [{pid: 0}]\n" + ok_sinks),
            "k.yaml: line 1: pid must be between 1 and 2147483647");
  EXPECT_EQ(error_of("targets: [{pid: 1, binary: /x}]\n" + ok_sinks),
            "k.yaml: line 1: a target is either {pid: N} or {binary: PATH}");
  EXPECT_EQ(error_of("targets: [{pid: 1}]\n"),
            "k.yaml: line 1: no sinks: add sinks: with prometheus, otlp, zipkin or output");
  EXPECT_EQ(error_of("targets: [{pid: 1}]\nsinks: {}\n"),
            "k.yaml: line 2: no sinks: set prometheus, otlp, zipkin or output");
  EXPECT_EQ(error_of("targets: [{pid: 1}]\nsinks: {otlp_gzip: yes, otlp: http://h}\n"),
            "k.yaml: line 2: otlp_gzip must be true or false, not 'yes'");
  EXPECT_EQ(error_of("targets: [{pid: 1}]\nringbuf_mb: 3\n" + ok_sinks),
            "k.yaml: line 2: ringbuf_mb must be a power of two (e.g. 8)");
  EXPECT_EQ(error_of("targets: [{pid: 1}]\nmax_string: 0\n" + ok_sinks),
            "k.yaml: line 2: max_string must be between 1 and 4096");
  EXPECT_EQ(error_of("targets: [{pid: 1}]\nmax_string: 4097\n" + ok_sinks),
            "k.yaml: line 2: max_string must be between 1 and 4096");
  EXPECT_EQ(error_of("targets: [{pid: 1}]\nmax_string: lots\n" + ok_sinks),
            "k.yaml: line 2: max_string must be a whole number, not 'lots'");
  EXPECT_EQ(error_of("targets: [{pid: 1}]\ntargets: [{pid: 2}]\n" + ok_sinks),
            "k.yaml: line 2: 'targets' given twice in the configuration");
  EXPECT_EQ(error_of("- 1\n- 2\n"), "k.yaml: line 1: the configuration must be a mapping of "
                                    "key: value");
}

TEST(Config, BadProbesAndTimeoutsAreOneLineErrors) {
  const std::string head = "targets: [{pid: 1}]\nsinks: {prometheus: '9464', ";
  EXPECT_EQ(error_of(head + "export_timeout: -1}\n"),
            "k.yaml: line 2: export_timeout must be a number, not '-1'");
  EXPECT_EQ(error_of(head + "export_timeout: 1.2.3}\n"),
            "k.yaml: line 2: export_timeout must be a number, not '1.2.3'");
  EXPECT_EQ(error_of(head + "export_timeout: 7200}\n"),
            "k.yaml: line 2: export_timeout must be between 0 and 3600");
  const std::string ok = "targets: [{pid: 1}]\nsinks: {prometheus: '9464'}\n";
  EXPECT_EQ(error_of(ok + "probes:\n  uprobe: ['libc']\n"),
            "k.yaml: line 4: bad --uprobe spec 'libc': missing ':' between OBJECT and PATTERN at "
            "character 5 (expected OBJECT:PATTERN[,args=N])");
  EXPECT_EQ(
      error_of(ok + "probes:\n  span: 'a:b'\n"), std::string("k.yaml: line 4: ") + [] {
        try {
          (void)probe::parse_span_spec("a:b");
        } catch (const std::exception &e) {
          return std::string(e.what());
        }
        return std::string("(no error)");
      }());
  EXPECT_EQ(error_of(ok + "probes:\n  usdt: [{a: b}]\n"),
            "k.yaml: line 4: usdt entries must be a single value");
  EXPECT_EQ(error_of(ok + "probes:\n  costs: off\n"),
            "k.yaml: line 4: costs must be true or false, not 'off'");
  EXPECT_EQ(error_of(ok + "probes:\n  kprobe: [x]\n"),
            "k.yaml: line 4: unknown key 'kprobe' in probes (known: costs, max_uprobes, span, "
            "uprobe, usdt)");
  EXPECT_EQ(error_of(ok + "probes: [uprobe]\n"),
            "k.yaml: line 3: probes must be a mapping of key: value");
}

TEST(Config, ModesAreParsedAndChecked) {
  const auto c = parse_config("targets: [{pid: 7}]\nmode: sample\nsample_rate: 0.25\n"
                              "min_duration: 2ms\nmax_spans_per_second: 500\n"
                              "sinks: {prometheus: '9464'}\n",
                              "m.yaml");
  EXPECT_EQ(c.mode, "sample");
  EXPECT_DOUBLE_EQ(c.sample_rate, 0.25);
  EXPECT_EQ(c.min_duration, "2ms");
  EXPECT_EQ(c.max_spans_per_second, 500u);
  const std::string sinks = "sinks: {prometheus: '9464'}\n";
  const std::string head = "targets: [{pid: 7}]\n";
  for (const auto &[bad, want] : std::vector<std::pair<std::string, std::string>>{
           {"mode: fast\n", "m.yaml: line 2: mode must be trace, sample or stats"},
           {"sample_rate: 0\n", "m.yaml: line 2: sample_rate must be above 0 and at most 1"},
           {"sample_rate: 2\n", "m.yaml: line 2: sample_rate must be between 0 and 1"},
           {"min_duration: soon\n", "m.yaml: line 2: min_duration 'soon' is not a duration (e.g. "
                                    "500us, 2ms, 1s or plain ns)"},
       }) {
    std::string text = head;
    text += bad;
    text += sinks;
    try {
      (void)parse_config(text, "m.yaml");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const ConfigError &e) {
      EXPECT_EQ(std::string(e.what()), want);
    }
  }
}

TEST(Config, TomlIsRefusedClearly) {
  try {
    load_config("/nonexistent-dir/kernspan.TOML");
    FAIL() << "no error";
  } catch (const ConfigError &e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent-dir/kernspan.TOML: TOML is not supported; write the configuration as "
              "YAML (.yaml/.yml) or JSON (.json)");
  }
}

TEST(Config, MissingFileSaysWhy) {
  try {
    load_config("/nonexistent-dir/kernspan.yaml");
    FAIL() << "no error";
  } catch (const ConfigError &e) {
    EXPECT_EQ(std::string(e.what()), "--config /nonexistent-dir/kernspan.yaml: no such file (see "
                                     "kernspan serve --help for an example)");
  }
}

TEST(Config, DirectorySaysSo) {
  try {
    load_config("/tmp");
    FAIL() << "no error";
  } catch (const ConfigError &e) {
    EXPECT_EQ(std::string(e.what()),
              "--config /tmp: is a directory; give the configuration file (YAML or JSON)");
  }
}

TEST(Config, UnreadableFileNamesItAndWhy) {
  // /proc/self/mem opens, but reading at offset 0 (never mapped) fails.
  try {
    load_config("/proc/self/mem");
    FAIL() << "no error";
  } catch (const ConfigError &e) {
    EXPECT_EQ(std::string(e.what()), "--config /proc/self/mem: cannot read: Input/output error");
  }
}

} // namespace
} // namespace kernspan::cli
