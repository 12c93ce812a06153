// SPDX-License-Identifier: Apache-2.0
#include "exporters/prometheus.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "exporters/utf8.hpp"

namespace kernspan::exporters {
namespace {

constexpr double kNsPerSecond = 1e9;

double seconds(uint64_t ns) {
  return static_cast<double>(ns) / kNsPerSecond;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto &c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// "1700000000.123456789": exact, where a double would round the nanoseconds.
std::string unix_seconds(uint64_t unix_nano) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%llu.%09llu",
                static_cast<unsigned long long>(unix_nano / 1'000'000'000ULL),
                static_cast<unsigned long long>(unix_nano % 1'000'000'000ULL));
  return buf;
}

// One metric family's metadata, in the order each format wants it. `name`
// is the family name without the counter suffix (OpenMetrics' convention);
// text 0.0.4 names counters by their sample name with _total.
class Writer {
public:
  Writer(std::string &out, ExpositionFormat f)
      : out_(out), om_(f == ExpositionFormat::kOpenMetrics100) {}

  void family(std::string_view name, std::string_view type, std::string_view unit,
              std::string_view help) {
    const bool counter = type == "counter";
    std::string shown(name);
    if (counter && !om_) {
      shown += "_total";
    }
    if (om_) {
      line("# TYPE ", shown, " ", type);
      if (!unit.empty()) {
        line("# UNIT ", shown, " ", unit);
      }
      line("# HELP ", shown, " ", help);
    } else {
      line("# HELP ", shown, " ", help);
      line("# TYPE ", shown, " ", type);
    }
  }

  template <typename... Parts> void line(const Parts &...parts) {
    (out_.append(parts), ...);
    out_.push_back('\n');
  }

  [[nodiscard]] bool om() const { return om_; }

private:
  std::string &out_;
  bool om_;
};

std::string u64(uint64_t v) {
  return std::to_string(v);
}

// The cost fields the thread and process families show. Each is a total
// since attach that only grows while its thread lives.
constexpr std::array<uint64_t core::Costs::*, 9> kThreadFields = {
    &core::Costs::cpu_ns,      &core::Costs::runq_ns,      &core::Costs::io_wait_ns,
    &core::Costs::sleep_ns,    &core::Costs::syscalls,     &core::Costs::read_bytes,
    &core::Costs::write_bytes, &core::Costs::net_tx_bytes, &core::Costs::net_rx_bytes};

// One sample per part for each row: family_total{<row labels><extra>} value.
struct Part {
  const char *extra;
  uint64_t core::Costs::*field;
};
using CostRows = std::vector<std::pair<std::string, const core::Costs *>>; // labels, costs

void cost_family(Writer &w, const char *family, const char *unit, const char *help,
                 std::initializer_list<Part> parts, bool ns, const CostRows &rows) {
  if (rows.empty()) {
    return;
  }
  w.family(family, "counter", unit, help);
  for (const auto &[labels, costs] : rows) {
    for (const Part &p : parts) {
      const uint64_t v = (*costs).*p.field;
      w.line(family, "_total{", labels, p.extra, "} ", ns ? format_double(seconds(v)) : u64(v));
    }
  }
}

constexpr std::initializer_list<Part> kOffcpuParts = {
    {",reason=\"runq\"", &core::Costs::runq_ns},
    {",reason=\"io\"", &core::Costs::io_wait_ns},
    {",reason=\"sleep\"", &core::Costs::sleep_ns}};
constexpr std::initializer_list<Part> kNetworkParts = {
    {",direction=\"sent\"", &core::Costs::net_tx_bytes},
    {",direction=\"received\"", &core::Costs::net_rx_bytes}};

} // namespace

const char *content_type(ExpositionFormat f) {
  return f == ExpositionFormat::kOpenMetrics100
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

ExpositionFormat negotiate_format(std::string_view accept) {
  double om_q = -1;
  double text_q = -1;
  while (!accept.empty()) {
    const size_t comma = accept.find(',');
    std::string_view range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    const size_t semi = range.find(';');
    const std::string type = lower(trim(range.substr(0, semi)));
    double q = 1;
    for (std::string_view params = semi == std::string_view::npos ? "" : range.substr(semi + 1);
         !params.empty();) {
      const size_t next = params.find(';');
      const std::string p = lower(trim(params.substr(0, next)));
      params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
      if (p.rfind("q=", 0) == 0) {
        q = std::strtod(p.c_str() + 2, nullptr);
      }
    }
    if (type == "application/openmetrics-text") {
      om_q = std::max(om_q, q);
    } else if (type == "text/plain" || type == "*/*" || type == "text/*") {
      text_q = std::max(text_q, q);
    }
  }
  return om_q > 0 && om_q >= text_q ? ExpositionFormat::kOpenMetrics100
                                    : ExpositionFormat::kText004;
}

std::string escape_label_value(std::string_view v) {
  const std::string clean = sanitize_utf8(v);
  std::string out;
  out.reserve(clean.size());
  for (const char c : clean) {
    switch (c) {
    case '\\':
      out += "\\\\";
      break;
    case '"':
      out += "\\\"";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      out.push_back(c);
    }
  }
  return out;
}

std::string format_double(double v, bool openmetrics) {
  // Go's strconv 'g' with shortest digits, as client_golang prints: fixed
  // notation for exponents in [-4, 21), scientific outside ("1e-05").
  char buf[400];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);
  const size_t e = sci.find('e');
  const int exp = e == std::string::npos ? 0 : std::atoi(sci.c_str() + e + 1);
  std::string s = sci;
  if (e != std::string::npos && exp >= -4 && exp < 21) {
    res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
    s.assign(buf, res.ptr);
  } else if (e != std::string::npos && sci[e + 1] == '+') {
    s.erase(e + 1, 1); // 1e+21 -> 1e21
  }
  if (openmetrics && s.find_first_of(".eEn") == std::string::npos) {
    s += ".0"; // 1 -> 1.0 (not for inf/nan, which hold an 'n')
  }
  return s;
}

PrometheusSink::PrometheusSink(PrometheusOptions options)
    : options_(std::move(options)), service_label_(escape_label_value(options_.service)) {}

void PrometheusSink::on_span(const core::Span &span) {
  std::string name = sanitize_utf8(span.name);
  const uint64_t d = span.duration_ns();
  size_t b = 0;
  while (b < kBucketBoundsNs.size() && d > kBucketBoundsNs[b]) {
    b++;
  }
  std::lock_guard lock(mu_);
  spans_++;
  incomplete_ += span.incomplete ? 1 : 0;
  auto it = series_.find(name);
  if (it == series_.end()) {
    const size_t tracked = series_.size() - (series_.count(std::string(kOverflowName)) ? 1 : 0);
    if (tracked >= options_.max_span_names) {
      overflow_++;
      name = kOverflowName;
    }
    it = series_.try_emplace(std::move(name)).first;
  }
  Series &s = it->second;
  s.buckets[b]++;
  s.exemplars[b] = {span.trace_id, span.span_id, d, span.end_unix_nano};
  s.count++;
  s.sum_ns += d;
  s.errors += span.incomplete ? 1 : 0;
  if (span.has_costs) {
    s.has_costs = true;
    core::Costs &sum = s.costs;
    const core::Costs &c = span.costs;
    sum.cpu_ns += c.cpu_ns;
    sum.runq_ns += c.runq_ns;
    sum.io_wait_ns += c.io_wait_ns;
    sum.sleep_ns += c.sleep_ns;
    sum.read_bytes += c.read_bytes;
    sum.write_bytes += c.write_bytes;
    sum.net_tx_bytes += c.net_tx_bytes;
    sum.net_rx_bytes += c.net_rx_bytes;
  }
}

void PrometheusSink::set_aggregates(const std::vector<core::SpanAggregate> &aggregates) {
  std::map<std::string, Series> series;
  uint64_t spans = 0;
  uint64_t incomplete = 0;
  uint64_t overflow = 0;
  for (const auto &a : aggregates) {
    std::string name = sanitize_utf8(a.name);
    if (series.count(name) == 0 && series.size() >= options_.max_span_names) {
      overflow += a.count;
      name = kOverflowName;
    }
    Series &s = series[name];
    std::vector<uint64_t> slots(a.slots.begin(), a.slots.begin() + kLog2BucketsShown);
    const auto buckets = core::log2_to_cumulative(slots);
    if (s.log2.empty()) {
      s.log2 = buckets;
    } else {
      for (size_t i = 0; i < buckets.size(); i++) {
        s.log2[i].count += buckets[i].count;
      }
    }
    s.count += a.count;
    s.sum_ns += a.sum_ns;
    s.errors += a.incomplete;
    if (a.with_costs != 0) {
      s.has_costs = true;
      s.costs.cpu_ns += a.cost_sums.cpu_ns;
      s.costs.runq_ns += a.cost_sums.runq_ns;
      s.costs.io_wait_ns += a.cost_sums.io_wait_ns;
      s.costs.sleep_ns += a.cost_sums.sleep_ns;
      s.costs.read_bytes += a.cost_sums.read_bytes;
      s.costs.write_bytes += a.cost_sums.write_bytes;
      s.costs.net_tx_bytes += a.cost_sums.net_tx_bytes;
      s.costs.net_rx_bytes += a.cost_sums.net_rx_bytes;
    }
    spans += a.count;
    incomplete += a.incomplete;
  }
  std::lock_guard lock(mu_);
  series_ = std::move(series);
  spans_ = spans;
  incomplete_ = incomplete;
  overflow_ = overflow;
}

uint32_t PrometheusSink::process_key(uint32_t tgid, bool fresh_thread) {
  if (process_costs_.count(tgid) != 0) {
    return tgid;
  }
  const size_t own = process_costs_.size() - process_costs_.count(kOverflowPid);
  if (own < options_.max_threads) {
    return tgid;
  }
  // A process is new when this is its first thread seen (a live process
  // has a thread in every reading, so its threads stay known until it ends).
  const auto first = threads_.lower_bound({tgid, 0});
  const bool known = first != threads_.end() && first->first.first == tgid;
  if (fresh_thread && !known) {
    processes_overflowed_++;
  }
  return kOverflowPid;
}

void PrometheusSink::update_threads(const std::vector<core::ThreadCosts> &threads,
                                    uint64_t now_ns) {
  std::lock_guard lock(mu_);
  threads_on_ = true;
  readings_++;
  for (const auto &t : threads) {
    const std::pair<uint32_t, uint32_t> key{t.tgid, t.tid};
    auto it = threads_.find(key);
    if (it != threads_.end()) {
      bool reused = false;
      for (const auto f : kThreadFields) {
        reused = reused || t.costs.*f < it->second.costs.*f;
      }
      if (reused) { // the old thread exited and its tid came back: a new series
        threads_tracked_ -= it->second.overflow ? 0 : 1;
        threads_.erase(it);
        it = threads_.end();
      }
    }
    const uint32_t pkey = process_key(t.tgid, it == threads_.end());
    if (it == threads_.end()) {
      ThreadSeries fresh;
      if (threads_tracked_ >= options_.max_threads) {
        fresh.overflow = true;
        threads_overflowed_++;
      } else {
        threads_tracked_++;
      }
      it = threads_.emplace(key, std::move(fresh)).first;
    }
    ThreadSeries &s = it->second;
    core::Costs &process = process_costs_[pkey];
    core::Costs *overflow = s.overflow ? &overflow_costs_[pkey] : nullptr;
    for (const auto f : kThreadFields) {
      const uint64_t added = t.costs.*f - s.costs.*f;
      process.*f += added;
      if (overflow != nullptr) {
        (*overflow).*f += added;
      }
    }
    s.costs = t.costs;
    s.comm = t.comm;
    s.last_seen_ns = now_ns;
    s.last_reading = readings_;
  }
  for (auto it = threads_.begin(); it != threads_.end();) {
    // An exited overflow thread has no series of its own to keep: forget it
    // now, so short-lived threads past the limit cost no memory.
    const ThreadSeries &s = it->second;
    if (s.overflow ? s.last_reading != readings_
                   : now_ns - s.last_seen_ns > options_.thread_retention_ns) {
      threads_tracked_ -= it->second.overflow ? 0 : 1;
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
}

void PrometheusSink::set_health(const Health &health) {
  std::lock_guard lock(mu_);
  health_ = health;
}

std::string PrometheusSink::render(ExpositionFormat format) const {
  std::string out;
  {
    std::lock_guard lock(mu_);
    out.reserve(256 + series_.size() * 3000);
    render_locked(out, format);
  }
  return out;
}

namespace {

// kernspan's own health and its targets' resource use.
void render_health(Writer &w, const Health &h, const std::string &svc) {
  if (h.ringbuf.known) {
    w.family("kernspan_ringbuf_size_bytes", "gauge", "bytes",
             "Size of the span ring buffer's data area.");
    w.line("kernspan_ringbuf_size_bytes ", u64(h.ringbuf.size_bytes));
    w.family("kernspan_ringbuf_used_bytes", "gauge", "bytes",
             "Bytes in the span ring buffer not yet consumed, at the last look.");
    w.line("kernspan_ringbuf_used_bytes ", u64(h.ringbuf.used_bytes));
    w.family("kernspan_ringbuf_used_max_bytes", "gauge", "bytes",
             "Most bytes seen in the span ring buffer just before a drain.");
    w.line("kernspan_ringbuf_used_max_bytes ", u64(h.ringbuf.max_used_bytes));
  }
  w.family("kernspan_bpf_stats_enabled", "gauge", "",
           "1 while the kernel counts BPF program run time (BPF_ENABLE_STATS).");
  w.line("kernspan_bpf_stats_enabled ", h.bpf_stats_enabled ? "1" : "0");
  if (!h.programs.empty()) {
    w.family("kernspan_bpf_program_run_seconds", "counter", "seconds",
             "Time the kernel spent running each of kernspan's BPF programs.");
    for (const auto &p : h.programs) {
      w.line("kernspan_bpf_program_run_seconds_total{program=\"", escape_label_value(p.name),
             "\"} ", format_double(seconds(p.run_time_ns)));
    }
    w.family("kernspan_bpf_program_runs", "counter", "",
             "Runs of each of kernspan's BPF programs.");
    for (const auto &p : h.programs) {
      w.line("kernspan_bpf_program_runs_total{program=\"", escape_label_value(p.name), "\"} ",
             u64(p.run_count));
    }
  }
  if (h.processes.empty()) {
    return;
  }
  std::vector<std::string> labels;
  labels.reserve(h.processes.size());
  for (const auto &p : h.processes) {
    labels.push_back(svc + ",pid=\"" + u64(p.pid) + "\"");
  }
  w.family("kernspan_process_cpu_seconds", "counter", "seconds",
           "CPU time of the traced process, all threads, by mode.");
  for (size_t i = 0; i < h.processes.size(); i++) {
    w.line("kernspan_process_cpu_seconds_total{", labels[i], ",mode=\"user\"} ",
           format_double(seconds(h.processes[i].user_ns)));
    w.line("kernspan_process_cpu_seconds_total{", labels[i], ",mode=\"system\"} ",
           format_double(seconds(h.processes[i].system_ns)));
  }
  w.family("kernspan_process_resident_memory_bytes", "gauge", "bytes",
           "Resident memory of the traced process.");
  for (size_t i = 0; i < h.processes.size(); i++) {
    w.line("kernspan_process_resident_memory_bytes{", labels[i], "} ",
           u64(h.processes[i].rss_bytes));
  }
  w.family("kernspan_process_memory_limit_bytes", "gauge", "bytes",
           "Memory the traced process may use: its cgroup's memory.max, else the machine's.");
  for (size_t i = 0; i < h.processes.size(); i++) {
    w.line("kernspan_process_memory_limit_bytes{", labels[i], "} ",
           u64(h.processes[i].memory_limit_bytes));
  }
  w.family("kernspan_process_runqueue_seconds", "counter", "seconds",
           "Time the traced process's live threads waited for a CPU.");
  for (size_t i = 0; i < h.processes.size(); i++) {
    w.line("kernspan_process_runqueue_seconds_total{", labels[i], "} ",
           format_double(seconds(h.processes[i].runqueue_ns)));
  }
  w.family("kernspan_process_blkio_seconds", "counter", "seconds",
           "Time the traced process waited for block I/O (needs delay accounting).");
  for (size_t i = 0; i < h.processes.size(); i++) {
    w.line("kernspan_process_blkio_seconds_total{", labels[i], "} ",
           format_double(seconds(h.processes[i].blkio_ns)));
  }
  bool any_io = false;
  for (const auto &p : h.processes) {
    any_io = any_io || p.io_known;
  }
  if (any_io) {
    w.family("kernspan_process_io_bytes", "counter", "bytes",
             "Bytes the traced process read from and wrote to storage.");
    for (size_t i = 0; i < h.processes.size(); i++) {
      if (h.processes[i].io_known) {
        w.line("kernspan_process_io_bytes_total{", labels[i], ",direction=\"read\"} ",
               u64(h.processes[i].read_bytes));
        w.line("kernspan_process_io_bytes_total{", labels[i], ",direction=\"write\"} ",
               u64(h.processes[i].write_bytes));
      }
    }
  }
}

} // namespace

void PrometheusSink::render_locked(std::string &out, ExpositionFormat format) const {
  Writer w(out, format);
  const bool om = w.om();
  const std::string svc = "service_name=\"" + service_label_ + "\"";

  // Bucket bounds as le label values, once per render.
  std::array<std::string, kBuckets> le;
  for (size_t i = 0; i < kBucketBoundsNs.size(); i++) {
    le[i] = format_double(seconds(kBucketBoundsNs[i]), om);
  }
  le[kBuckets - 1] = "+Inf";

  std::vector<std::pair<const std::string *, std::string>> labels; // name, escaped labels
  labels.reserve(series_.size());
  bool any_costs = false;
  for (const auto &[name, s] : series_) {
    labels.emplace_back(&name, svc + ",span_name=\"" + escape_label_value(name) + "\"");
    any_costs = any_costs || s.has_costs;
  }

  if (!series_.empty()) {
    w.family("kernspan_span_duration_seconds", "histogram", "seconds",
             "Wall time of finished spans, by span name.");
    size_t i = 0;
    for (const auto &[name, s] : series_) {
      const std::string &l = labels[i++].second;
      for (const auto &b : s.log2) { // --mode stats
        w.line("kernspan_span_duration_seconds_bucket{", l, ",le=\"",
               format_double(seconds(b.upper_le), om), "\"} ", u64(b.count));
      }
      if (!s.log2.empty()) {
        w.line("kernspan_span_duration_seconds_bucket{", l, ",le=\"+Inf\"} ", u64(s.count));
      }
      uint64_t cumulative = 0;
      for (size_t b = 0; b < kBuckets && s.log2.empty(); b++) {
        cumulative += s.buckets[b];
        std::string exemplar;
        if (om && s.buckets[b] != 0) {
          const Exemplar &e = s.exemplars[b];
          exemplar = " # {trace_id=\"" + e.trace_id.hex() + "\",span_id=\"" +
                     core::span_id_hex(e.span_id) + "\"} " + format_double(seconds(e.value_ns)) +
                     " " + unix_seconds(e.end_unix_nano);
        }
        w.line("kernspan_span_duration_seconds_bucket{", l, ",le=\"", le[b], "\"} ",
               u64(cumulative), exemplar);
      }
      w.line("kernspan_span_duration_seconds_sum{", l, "} ", format_double(seconds(s.sum_ns)));
      w.line("kernspan_span_duration_seconds_count{", l, "} ", u64(s.count));
    }
  }

  if (any_costs) {
    // A counter family per cost; `extra` labels split one family by kind.
    struct Part {
      const char *extra;
      uint64_t core::Costs::*field;
    };
    const auto counter = [&](const char *family, const char *unit, const char *help,
                             std::initializer_list<Part> parts, bool ns) {
      w.family(family, "counter", unit, help);
      size_t i = 0;
      for (const auto &[name, s] : series_) {
        const std::string &l = labels[i++].second;
        if (!s.has_costs) {
          continue;
        }
        for (const Part &p : parts) {
          const uint64_t v = s.costs.*p.field;
          w.line(family, "_total{", l, p.extra, "} ", ns ? format_double(seconds(v)) : u64(v));
        }
      }
    };
    counter("kernspan_span_cpu_seconds", "seconds", "CPU time spent inside spans, by span name.",
            {{"", &core::Costs::cpu_ns}}, true);
    counter("kernspan_span_offcpu_seconds", "seconds",
            "Time spans spent off-CPU, by span name and reason.",
            {{",reason=\"runq\"", &core::Costs::runq_ns},
             {",reason=\"io\"", &core::Costs::io_wait_ns},
             {",reason=\"sleep\"", &core::Costs::sleep_ns}},
            true);
    counter("kernspan_span_io_bytes", "bytes", "Bytes read and written by spans, by span name.",
            {{",direction=\"read\"", &core::Costs::read_bytes},
             {",direction=\"write\"", &core::Costs::write_bytes}},
            false);
    counter("kernspan_span_network_bytes", "bytes",
            "Bytes sent and received on sockets by spans, by span name.",
            {{",direction=\"sent\"", &core::Costs::net_tx_bytes},
             {",direction=\"received\"", &core::Costs::net_rx_bytes}},
            false);
  }

  if (!series_.empty()) {
    // With _count of the duration histogram: the error rate per span name.
    w.family("kernspan_span_errors", "counter", "",
             "Spans that ended in error (reported incomplete: their thread exited or "
             "--span-timeout passed before the end), by span name.");
    size_t i = 0;
    for (const auto &[name, s] : series_) {
      w.line("kernspan_span_errors_total{", labels[i++].second, "} ", u64(s.errors));
    }
  }
  w.family("kernspan_spans", "counter", "", "Finished spans seen.");
  w.line("kernspan_spans_total{", svc, "} ", u64(spans_));
  w.family("kernspan_spans_incomplete", "counter", "",
           "Spans still open when their thread exited.");
  w.line("kernspan_spans_incomplete_total{", svc, "} ", u64(incomplete_));
  w.family("kernspan_records_received", "counter", "",
           "Records received from the kernel's ring buffer.");
  w.line("kernspan_records_received_total ", u64(health_.records_received));
  if (!health_.drops.places.empty()) {
    w.family("kernspan_dropped", "counter", "", "Records, spans or batches dropped, by place.");
    for (const auto &[place, n] : health_.drops.places) {
      w.line("kernspan_dropped_total{place=\"", escape_label_value(place), "\"} ", u64(n));
    }
  }
  w.family("kernspan_span_name_overflow", "counter", "",
           "Spans counted under the span name __overflow__ because the span name limit was "
           "reached.");
  w.line("kernspan_span_name_overflow_total ", u64(overflow_));
  w.family("kernspan_span_names", "gauge", "", "Distinct span names with their own series.");
  w.line("kernspan_span_names ",
         u64(series_.size() - (series_.count(std::string(kOverflowName)) ? 1 : 0)));
  render_health(w, health_, svc);
  render_threads(out, format, svc);
  if (om) {
    out += "# EOF\n";
  }
}

void PrometheusSink::render_threads(std::string &out, ExpositionFormat format,
                                    const std::string &svc) const {
  if (!threads_on_) {
    return;
  }
  Writer w(out, format);
  CostRows rows;
  rows.reserve(threads_.size() + overflow_costs_.size());
  for (const auto &[key, s] : threads_) {
    if (!s.overflow) {
      rows.emplace_back(svc + ",pid=\"" + u64(key.first) + "\",tid=\"" + u64(key.second) +
                            "\",thread=\"" + escape_label_value(s.comm) + "\"",
                        &s.costs);
    }
  }
  const auto pid_label = [](uint32_t tgid) {
    return tgid == kOverflowPid ? std::string(kOverflowName) : u64(tgid);
  };
  for (const auto &[tgid, costs] : overflow_costs_) {
    std::string l = svc + ",pid=\"" + pid_label(tgid);
    l.append("\",tid=\"").append(kOverflowName).append("\",thread=\"");
    l.append(kOverflowName).append("\"");
    rows.emplace_back(std::move(l), &costs);
  }
  cost_family(w, "kernspan_thread_cpu_seconds", "seconds",
              "CPU time of each traced thread since attach.", {{"", &core::Costs::cpu_ns}}, true,
              rows);
  cost_family(w, "kernspan_thread_offcpu_seconds", "seconds",
              "Time each traced thread spent off-CPU since attach, by reason.", kOffcpuParts, true,
              rows);
  cost_family(w, "kernspan_thread_syscalls", "", "System calls of each traced thread since attach.",
              {{"", &core::Costs::syscalls}}, false, rows);
  cost_family(w, "kernspan_thread_io_bytes", "bytes",
              "Bytes each traced thread read and wrote with read and write system calls.",
              {{",direction=\"read\"", &core::Costs::read_bytes},
               {",direction=\"write\"", &core::Costs::write_bytes}},
              false, rows);
  cost_family(w, "kernspan_thread_network_bytes", "bytes",
              "Bytes each traced thread sent and received on TCP and UDP sockets.", kNetworkParts,
              false, rows);
  w.family("kernspan_thread_overflow", "counter", "",
           "Threads counted under tid __overflow__ because the thread limit was reached.");
  w.line("kernspan_thread_overflow_total ", u64(threads_overflowed_));
  w.family("kernspan_threads", "gauge", "",
           "Threads with their own series, exited ones still kept included.");
  w.line("kernspan_threads ", u64(threads_tracked_));

  CostRows procs;
  procs.reserve(process_costs_.size());
  for (const auto &[tgid, costs] : process_costs_) {
    procs.emplace_back(svc + ",pid=\"" + pid_label(tgid) + "\"", &costs);
  }
  cost_family(w, "kernspan_process_offcpu_seconds", "seconds",
              "Time the traced process's threads spent off-CPU since attach, by reason.",
              kOffcpuParts, true, procs);
  cost_family(w, "kernspan_process_syscalls", "",
              "System calls of the traced process's threads since attach.",
              {{"", &core::Costs::syscalls}}, false, procs);
  cost_family(w, "kernspan_process_network_bytes", "bytes",
              "Bytes the traced process's threads sent and received on TCP and UDP sockets.",
              kNetworkParts, false, procs);
  w.family("kernspan_process_overflow", "counter", "",
           "Processes counted under pid __overflow__ because the process limit (the thread "
           "limit) was reached.");
  w.line("kernspan_process_overflow_total ", u64(processes_overflowed_));
}

} // namespace kernspan::exporters
