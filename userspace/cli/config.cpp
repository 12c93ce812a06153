// SPDX-License-Identifier: Apache-2.0
#include "cli/config.hpp"

#include "core/modes.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <limits>
#include <map>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "probe/functions.hpp"
#include "probe/span_spec.hpp"

namespace kernspan::cli {
namespace {

// A configuration is a few hundred bytes; /dev/zero would never end.
constexpr size_t kMaxConfigBytes = size_t{16} << 20;

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// libyaml's parser and document, freed on every path.
class Document {
public:
  Document(const std::string &text, const std::string &name) : name_(name) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char *>(text.data()),
                                 text.size());
    if (yaml_parser_load(&parser_, &doc_) == 0) {
      const std::string problem = parser_.problem != nullptr ? parser_.problem : "syntax error";
      const size_t line = parser_.problem_mark.line + 1;
      yaml_parser_delete(&parser_);
      throw ConfigError(name + ": line " + std::to_string(line) + ": " + problem);
    }
    loaded_ = true;
  }
  ~Document() {
    if (loaded_) {
      yaml_document_delete(&doc_);
      yaml_parser_delete(&parser_);
    }
  }
  Document(const Document &) = delete;
  Document &operator=(const Document &) = delete;

  yaml_node_t *root() { return yaml_document_get_root_node(&doc_); }
  yaml_node_t *node(int index) { return yaml_document_get_node(&doc_, index); }

  [[noreturn]] void fail(const yaml_node_t *at, const std::string &what) const {
    throw ConfigError(name_ + ": line " + std::to_string(at->start_mark.line + 1) + ": " + what);
  }

  std::string scalar(const yaml_node_t *n, const std::string &key) const {
    if (n->type != YAML_SCALAR_NODE) {
      fail(n, key + " must be a single value");
    }
    return {reinterpret_cast<const char *>(n->data.scalar.value), n->data.scalar.length};
  }

  bool plain(const yaml_node_t *n) const {
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  }

  uint64_t integer(const yaml_node_t *n, const std::string &key, uint64_t min, uint64_t max) const {
    const std::string s = scalar(n, key);
    if (!plain(n) || s.empty() || s.size() > 19 ||
        s.find_first_not_of("0123456789") != std::string::npos) {
      fail(n, key + " must be a whole number, not '" + s + "'");
    }
    const uint64_t v = std::stoull(s);
    if (v < min || v > max) {
      fail(n, key + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return v;
  }

  // A plain decimal such as 1, 0.25 or 2.5, within [min, max].
  double number(const yaml_node_t *n, const std::string &key, double min, double max) const {
    const std::string s = scalar(n, key);
    const bool digits = !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos &&
                        std::count(s.begin(), s.end(), '.') <= 1 && s != "." && s.size() <= 20;
    if (!plain(n) || !digits) {
      fail(n, key + " must be a number, not '" + s + "'");
    }
    const double v = std::strtod(s.c_str(), nullptr);
    if (v < min || v > max) {
      fail(n, key + " must be between " + format_number(min) + " and " + format_number(max));
    }
    return v;
  }

  bool boolean(const yaml_node_t *n, const std::string &key) const {
    const std::string s = scalar(n, key);
    if (plain(n) && (s == "true" || s == "false")) {
      return s == "true";
    }
    fail(n, key + " must be true or false, not '" + s + "'");
  }

  std::string string(const yaml_node_t *n, const std::string &key) const {
    std::string s = scalar(n, key);
    if (s.empty()) {
      fail(n, key + " must not be empty");
    }
    return s;
  }

  // A list of non-empty strings (a single string is a list of one).
  std::vector<std::string> strings(yaml_node_t *n, const std::string &key) {
    if (n->type == YAML_SCALAR_NODE) {
      return {string(n, key)};
    }
    if (n->type != YAML_SEQUENCE_NODE) {
      fail(n, key + " must be a list of strings");
    }
    std::vector<std::string> out;
    for (auto *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
      out.push_back(string(node(*i), key + " entries"));
    }
    return out;
  }

  // Calls `on(key, value)` for each pair of mapping `n`; unknown keys and
  // repeated keys are errors.
  void mapping(const yaml_node_t *n, const std::string &what,
               const std::map<std::string, std::function<void(yaml_node_t *)>> &on) {
    if (n->type != YAML_MAPPING_NODE) {
      fail(n, what + " must be a mapping of key: value");
    }
    std::map<std::string, bool> seen;
    for (auto *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
      const yaml_node_t *k = node(p->key);
      const std::string key = scalar(k, "a key");
      const auto it = on.find(key);
      if (it == on.end()) {
        std::string msg = "unknown key '";
        msg += key;
        msg += "' in ";
        msg += what;
        msg += " (known: ";
        bool first = true;
        for (const auto &[name, fn] : on) {
          msg += first ? "" : ", ";
          msg += name;
          first = false;
        }
        fail(k, msg + ")");
      }
      if (seen[key]) {
        std::string msg = "'";
        msg += key;
        msg += "' given twice in ";
        fail(k, msg + what);
      }
      seen[key] = true;
      it->second(node(p->value));
    }
  }

private:
  const std::string name_;
  yaml_parser_t parser_{};
  yaml_document_t doc_{};
  bool loaded_ = false;
};

} // namespace

ServeConfig parse_config(const std::string &text, const std::string &name) {
  Document d(text, name);
  yaml_node_t *root = d.root();
  if (root == nullptr) {
    throw ConfigError(name + ": empty configuration: needs targets and sinks");
  }
  ServeConfig c;
  const auto max_pid = static_cast<uint64_t>(std::numeric_limits<pid_t>::max());
  yaml_node_t *targets = nullptr;
  yaml_node_t *sinks = nullptr;
  yaml_node_t *probes = nullptr;
  d.mapping(root, "the configuration",
            {{"service", [&](yaml_node_t *v) { c.service = d.string(v, "service"); }},
             {"max_string",
              [&](yaml_node_t *v) {
                c.max_string =
                    static_cast<uint32_t>(d.integer(v, "max_string", 1, 4096)); // KS_MAX_STRING
              }},
             {"ringbuf_mb",
              [&](yaml_node_t *v) {
                c.ringbuf_mb = static_cast<uint32_t>(d.integer(v, "ringbuf_mb", 1, 1024));
                if ((c.ringbuf_mb & (c.ringbuf_mb - 1)) != 0) {
                  d.fail(v, "ringbuf_mb must be a power of two (e.g. 8)");
                }
              }},
             {"targets", [&](yaml_node_t *v) { targets = v; }},
             {"probes", [&](yaml_node_t *v) { probes = v; }},
             {"mode",
              [&](yaml_node_t *v) {
                c.mode = d.string(v, "mode");
                if (c.mode != "trace" && c.mode != "sample" && c.mode != "stats") {
                  d.fail(v, "mode must be trace, sample or stats");
                }
              }},
             {"sample_rate",
              [&](yaml_node_t *v) {
                c.sample_rate = d.number(v, "sample_rate", 0, 1);
                if (c.sample_rate <= 0) {
                  d.fail(v, "sample_rate must be above 0 and at most 1");
                }
              }},
             {"min_duration",
              [&](yaml_node_t *v) {
                c.min_duration = d.string(v, "min_duration");
                if (!core::parse_duration_ns(c.min_duration)) {
                  d.fail(v, "min_duration '" + c.min_duration +
                                "' is not a duration (e.g. 500us, 2ms, 1s or plain ns)");
                }
              }},
             {"span_timeout",
              [&](yaml_node_t *v) {
                c.span_timeout = d.string(v, "span_timeout");
                const auto ns = core::parse_duration_ns(c.span_timeout);
                if (!ns || *ns == 0) {
                  d.fail(v,
                         "span_timeout '" + c.span_timeout + "' is not a duration (e.g. 30s, 5m)");
                }
              }},
             {"max_spans_per_second",
              [&](yaml_node_t *v) {
                c.max_spans_per_second = d.integer(v, "max_spans_per_second", 1, 1'000'000'000);
              }},
             {"sinks", [&](yaml_node_t *v) { sinks = v; }}});
  if (targets == nullptr) {
    d.fail(root, "no targets: add targets: [{pid: N}] or [{binary: PATH}]");
  }
  if (targets->type != YAML_SEQUENCE_NODE) {
    d.fail(targets, "targets must be a list, e.g. targets: [{pid: 4242}]");
  }
  for (auto *i = targets->data.sequence.items.start; i < targets->data.sequence.items.top; i++) {
    yaml_node_t *t = d.node(*i);
    bool one = false;
    d.mapping(t, "a target",
              {{"pid",
                [&](yaml_node_t *v) {
                  c.pids.push_back(static_cast<pid_t>(d.integer(v, "pid", 1, max_pid)));
                  one = !one;
                }},
               {"binary", [&](yaml_node_t *v) {
                  c.binaries.push_back(d.string(v, "binary"));
                  one = !one;
                }}});
    if (!one) {
      d.fail(t, "a target is either {pid: N} or {binary: PATH}");
    }
  }
  if (c.pids.empty() && c.binaries.empty()) {
    d.fail(targets, "no targets: add targets: [{pid: N}] or [{binary: PATH}]");
  }
  if (probes != nullptr) {
    // A list of specs, each checked by `parse` (the trace flag's parser).
    const auto specs = [&](yaml_node_t *v, const std::string &key, const auto &parse) {
      auto list = d.strings(v, key);
      for (const auto &spec : list) {
        try {
          (void)parse(spec);
        } catch (const std::exception &e) {
          d.fail(v, e.what());
        }
      }
      return list;
    };
    d.mapping(
        probes, "probes",
        {{"uprobe",
          [&](yaml_node_t *v) { c.uprobes = specs(v, "uprobe", probe::parse_uprobe_spec); }},
         {"max_uprobes",
          [&](yaml_node_t *v) { c.max_uprobes = d.integer(v, "max_uprobes", 1, 1'000'000); }},
         {"span", [&](yaml_node_t *v) { c.spans = specs(v, "span", probe::parse_span_spec); }},
         {"usdt",
          [&](yaml_node_t *v) {
            c.usdts =
                specs(v, "usdt", [](const std::string &t) { return probe::parse_probe_ref(t); });
          }},
         {"costs", [&](yaml_node_t *v) { c.costs = d.boolean(v, "costs"); }}});
  }
  if (sinks == nullptr) {
    d.fail(root, "no sinks: add sinks: with prometheus, otlp, zipkin or output");
  }
  d.mapping(
      sinks, "sinks",
      {{"prometheus", [&](yaml_node_t *v) { c.prometheus = d.string(v, "prometheus"); }},
       {"max_span_names",
        [&](yaml_node_t *v) { c.max_span_names = d.integer(v, "max_span_names", 1, 1'000'000); }},
       {"max_threads",
        [&](yaml_node_t *v) { c.max_threads = d.integer(v, "max_threads", 1, 1'000'000); }},
       {"otlp", [&](yaml_node_t *v) { c.otlp = d.string(v, "otlp"); }},
       {"otlp_encoding",
        [&](yaml_node_t *v) {
          c.otlp_encoding = d.string(v, "otlp_encoding");
          if (c.otlp_encoding != "protobuf" && c.otlp_encoding != "json") {
            d.fail(v, "otlp_encoding must be protobuf or json");
          }
        }},
       {"otlp_gzip", [&](yaml_node_t *v) { c.otlp_gzip = d.boolean(v, "otlp_gzip"); }},
       {"zipkin", [&](yaml_node_t *v) { c.zipkin = d.string(v, "zipkin"); }},
       {"output", [&](yaml_node_t *v) { c.output = d.string(v, "output"); }},
       {"format", [&](yaml_node_t *v) { c.format = d.string(v, "format"); }},
       {"export_timeout",
        [&](yaml_node_t *v) { c.export_timeout_s = d.number(v, "export_timeout", 0, 3600); }}});
  if (c.prometheus.empty() && c.otlp.empty() && c.zipkin.empty() && c.output.empty()) {
    d.fail(sinks, "no sinks: set prometheus, otlp, zipkin or output");
  }
  return c;
}

ServeConfig load_config(const std::string &path) {
  const size_t dot = path.rfind('.');
  if (dot != std::string::npos && path.find('/', dot) == std::string::npos) {
    std::string ext = path.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (ext == "toml") {
      throw ConfigError(path + ": TOML is not supported; write the configuration as YAML "
                               "(.yaml/.yml) or JSON (.json)");
    }
  }
  // The file's errors name it as the flag does: "--config PATH: ...".
  const std::string flag = "--config " + path + ": ";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      throw ConfigError(flag + "no such file (see kernspan serve --help for an example)");
    }
    throw ConfigError(flag + "cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    throw ConfigError(flag + "is a directory; give the configuration file (YAML or JSON)");
  }
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      close(fd);
      throw ConfigError(flag + "cannot read: " + std::strerror(err));
    }
    if (text.size() + static_cast<size_t>(n) > kMaxConfigBytes) {
      close(fd);
      throw ConfigError(flag + "larger than " + std::to_string(kMaxConfigBytes >> 20) +
                        " MiB: not a configuration file");
    }
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return parse_config(text, path);
}

} // namespace kernspan::cli
