// SPDX-License-Identifier: Apache-2.0
// kernspan serve's configuration: YAML and JSON, and one-line errors that
// name the file and line.
#include "cli/config.hpp"

#include <gtest/gtest.h>

namespace kernspan::cli {
namespace {

TEST(Config, ParsesEveryKeyFromYaml) {
  const ServeConfig c = parse_config(R"(# kernspan serve
service: checkout
ringbuf_mb: 8
targets:
  - pid: 4242
  - binary: /usr/local/bin/checkout
  - pid: 7
sinks:
  prometheus: 127.0.0.1:9464
  max_span_names: 50
  otlp: http://localhost:4318
  otlp_encoding: json
  otlp_gzip: true
  zipkin: http://localhost:9411
  output: /tmp/spans.json
  format: chrome
)",
                                     "k.yaml");
  EXPECT_EQ(c.service, "checkout");
  EXPECT_EQ(c.ringbuf_mb, 8u);
  EXPECT_EQ(c.pids, (std::vector<pid_t>{4242, 7}));
  EXPECT_EQ(c.binaries, (std::vector<std::string>{"/usr/local/bin/checkout"}));
  EXPECT_EQ(c.prometheus, "127.0.0.1:9464");
  EXPECT_EQ(c.max_span_names, 50u);
  EXPECT_EQ(c.otlp, "http://localhost:4318");
  EXPECT_EQ(c.otlp_encoding, "json");
  EXPECT_TRUE(c.otlp_gzip);
  EXPECT_EQ(c.zipkin, "http://localhost:9411");
  EXPECT_EQ(c.output, "/tmp/spans.json");
  EXPECT_EQ(c.format, "chrome");
}

TEST(Config, JsonIsAcceptedAndDefaultsApply) {
  const ServeConfig c =
      parse_config(R"({"targets": [{"pid": 12}], "sinks": {"prometheus": "9464"}})", "k.json");
  EXPECT_EQ(c.pids, (std::vector<pid_t>{12}));
  EXPECT_EQ(c.prometheus, "9464");
  EXPECT_EQ(c.ringbuf_mb, 4u);
  EXPECT_EQ(c.format, "jsonl");
  EXPECT_EQ(c.otlp_encoding, "protobuf");
  EXPECT_TRUE(c.service.empty());
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
  EXPECT_EQ(error_of("targets: [{pid: 1}]\nsinks: {promethus: '1'}\n"),
            "k.yaml: line 2: unknown key 'promethus' in sinks (known: format, max_span_names, "
            "otlp, otlp_encoding, otlp_gzip, output, prometheus, zipkin)");
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
  EXPECT_EQ(error_of("targets: [{pid: 1}]\ntargets: [{pid: 2}]\n" + ok_sinks),
            "k.yaml: line 2: 'targets' given twice in the configuration");
  EXPECT_EQ(error_of("- 1\n- 2\n"), "k.yaml: line 1: the configuration must be a mapping of "
                                    "key: value");
}

TEST(Config, MissingFileSaysWhy) {
  try {
    load_config("/nonexistent-dir/kernspan.yaml");
    FAIL() << "no error";
  } catch (const ConfigError &e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot read config /nonexistent-dir/kernspan.yaml: No such file or directory");
  }
}

} // namespace
} // namespace kernspan::cli
