// SPDX-License-Identifier: Apache-2.0
//
// replay - what kernspan's own process spends on each ring-buffer record,
// without BPF: a stream of records laid out exactly as the BPF programs
// write them (bpf/kernspan.h) is replayed, single-threaded, through the
// code the collector runs on every sample (collect::RecordHandler), the
// trace pipeline's fan-out (cli::SpanFanout: the summary, then the sinks)
// and the JSON Lines sink writing to a file, stage by stage:
//
//   decode          the record decoders alone
//   decode+name     RecordHandler: decode, name the span and its thread
//   +jsonl          ... and JsonlSink (-o FILE, -q)
//   +summary        ... and the summary (SpanStats): `trace -q -o FILE`
//   +console        ... and the console sink too: `trace -o FILE`
//
// Prints records/s per core (records per second of this thread's CPU
// time), ns/record and heap allocations/record for each stage. Asserts
// nothing; ctest does not run it.
//
//   build/bench/replay [--records N] [--rounds R] [--out FILE]

#include "cli/pipeline.hpp"
#include "collect/pairs.hpp"
#include "collect/record_handler.hpp"
#include "collect/records.hpp"
#include "exporters/console.hpp"
#include "exporters/jsonl.hpp"
#include "probe/span_spec.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Every heap allocation of the process, to report allocations per record.
std::atomic<uint64_t> g_allocs{0};

} // namespace

void *operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void *p = std::malloc(n != 0 ? n : 1)) {
    return p;
  }
  throw std::bad_alloc();
}
// GCC sees free() of what operator new returned; the new above is malloc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void *p) noexcept {
  std::free(p);
}
void operator delete(void *p, std::size_t /*n*/) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace {

using namespace kernspan;

constexpr uint32_t kTgid = 4242;
constexpr uint32_t kThreads = 8;

// Span names of the USDT markers (string literals in the target's
// .rodata), at made-up addresses of that mapping.
struct NameSite {
  const char *name;
  uint64_t ptr;
};
constexpr NameSite kNames[] = {
    {"handle_request", 0x55550000'1000},
    {"db.query.execute", 0x55550000'1040},
    {"cache.lookup", 0x55550000'1080},
    {"render.template.page", 0x55550000'10c0},
};

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// The stream: records back to back, each at an 8-byte boundary as in the
// ring buffer.
struct Stream {
  std::vector<unsigned char> bytes;
  std::vector<std::pair<size_t, size_t>> recs; // offset, size

  // The record's first `size` bytes (at most sizeof(r)), then `tail` (the
  // packed strings that follow the fixed part), as the ring buffer holds it.
  template <typename Rec> void add(const Rec &r, size_t size, std::string_view tail = {}) {
    const size_t off = bytes.size();
    const size_t whole = size + tail.size();
    bytes.resize(off + ((whole + 7) & ~size_t{7}));
    std::memcpy(bytes.data() + off, &r, size);
    std::memcpy(bytes.data() + off + size, tail.data(), tail.size());
    recs.emplace_back(off, whole);
  }
};

void fill_costs(ks_costs &c, uint64_t i) {
  c.cpu_ns = 1500 + (i % 977);
  c.offcpu_ns = i % 3 == 0 ? 25'000 + i % 1000 : 0;
  c.runq_ns = i % 7;
  c.syscalls = i % 5;
  c.syscall_ns = (i % 5) * 800;
  c.read_bytes = (i % 4) * 4096;
  c.write_bytes = (i % 3) * 512;
  c.minflt = i % 2;
  c.ctxsw_voluntary = i % 3 == 0 ? 1 : 0;
}

// A span record of thread `t`: the comm and the name only in the first
// record of the thread (and of each name), costs on every other record.
size_t span_rec(ks_span_rec &r, uint64_t i, uint32_t t, bool first_comm, bool first_name,
                const NameSite &site, bool costs) {
  r = {};
  r.hdr.kind = KS_REC_SPAN;
  r.hdr.tgid = kTgid;
  r.hdr.tid = kTgid + t;
  r.hdr.cpu = t % 2;
  r.start_ns = 1'000'000'000ULL + i * 3000;
  r.end_ns = r.start_ns + 800 + (i * 7919) % 20'000;
  r.hdr.ktime = r.end_ns + 100;
  r.trace_id_hi = 0x0af7651916cd43ddULL ^ (i / 4);
  r.trace_id_lo = 0x8448eb211c80319cULL + (i / 4);
  r.span_id = 0xb7ad6b7169203331ULL + i;
  r.parent_span_id = i % 4 == 0 ? 0 : r.span_id - 1;
  r.depth = static_cast<uint32_t>(i % 4);
  r.name_ptr = site.ptr;
  r.flags = costs ? KS_SPAN_HAS_COSTS : 0;
  if (first_comm) {
    std::snprintf(r.comm, sizeof(r.comm), "worker-%u", t);
  } else {
    r.flags |= KS_SPAN_COMM_OMITTED;
  }
  if (costs) {
    fill_costs(r.costs, i);
  }
  if (first_name) {
    return sizeof(r); // the name's bytes follow (the caller adds them)
  }
  r.flags |= KS_SPAN_NAME_OMITTED;
  return costs ? KS_SPAN_REC_NO_NAME : KS_SPAN_REC_NO_COSTS_NO_NAME;
}

// Of every 20 records: 14 USDT marker spans (half with costs), 3 function
// spans (two arguments and the return value), 3 pair spans with an
// integer and a string attribute.
Stream make_stream(size_t n) {
  Stream s;
  std::vector<bool> comm_sent(kThreads, false);
  std::vector<bool> name_sent(kThreads * std::size(kNames), false);
  for (uint64_t i = 0; i < n; i++) {
    const auto t = static_cast<uint32_t>(i % kThreads);
    const uint64_t kind = i % 20;
    const bool first_comm = !comm_sent[t];
    comm_sent[t] = true;
    if (kind < 14) {
      const size_t name = (i / kThreads) % std::size(kNames);
      const bool first_name = !name_sent[t * std::size(kNames) + name];
      name_sent[t * std::size(kNames) + name] = true;
      ks_span_rec r;
      const size_t size = span_rec(r, i, t, first_comm, first_name, kNames[name], kind % 2 == 0);
      const std::string_view tail = first_name ? std::string_view(kNames[name].name) : "";
      r.hdr.size = static_cast<uint16_t>(size + tail.size());
      s.add(r, size, tail);
    } else if (kind < 17) {
      ks_fn_span_rec r{};
      span_rec(r.span, i, t, first_comm, true, kNames[0], true);
      // function spans are named from the plan
      r.span.flags &= ~static_cast<uint32_t>(KS_SPAN_NAME_OMITTED);
      r.span.name_ptr = KS_FN_TAG | (i % 2);
      r.span.hdr.kind = KS_REC_FN_SPAN;
      r.span.hdr.size = sizeof(r);
      r.probe_id = static_cast<uint32_t>(i % 2);
      r.nargs = KS_FN_MAX_ARGS;
      for (size_t a = 0; a < KS_FN_MAX_ARGS; a++) {
        r.args[a] = i * 31 + a;
      }
      r.ret = i % 3;
      s.add(r, sizeof(r));
    } else {
      ks_pair_span_rec r{};
      span_rec(r.span, i, t, first_comm, true, kNames[0], true);
      // a literal name: userspace has it, and the record carries no bytes
      r.span.flags &= ~static_cast<uint32_t>(KS_SPAN_NAME_OMITTED);
      r.span.name_ptr = KS_PAIR_TAG;
      r.span.hdr.kind = KS_REC_PAIR_SPAN;
      r.pair_id = 0;
      r.ints[0] = 200 + (i % 3) * 100;
      const std::string route = "/api/v1/items/" + std::to_string(i % 50);
      r.str_len[2] = static_cast<uint16_t>(route.size()); // attribute 1's string
      r.span.hdr.size = static_cast<uint16_t>(sizeof(r) + route.size());
      s.add(r, sizeof(r), route);
    }
  }
  return s;
}

collect::Plan make_plan() {
  collect::Plan plan;
  plan.tgids = {static_cast<pid_t>(kTgid)};
  collect::FunctionProbe parse;
  parse.name = "parse_request";
  parse.nargs = 2;
  collect::FunctionProbe query;
  query.name = "db_query_one";
  query.nargs = 1;
  plan.functions = {parse, query};
  plan.pairs = {probe::parse_span_spec(
      "app:req_start..app:req_done,name=http.request,attr.http.status=end.arg0,"
      "attr.http.route=str(arg1)")};
  return plan;
}

struct Result {
  double ns_per_record = 0;
  double allocs_per_record = 0;
};

// Best of `rounds` passes over the stream (the first pass of each stage
// warms the caches: names, comms, buffers).
Result run(const Stream &s, int rounds, const std::function<void(const void *, size_t)> &each) {
  for (const auto &[off, size] : s.recs) {
    each(s.bytes.data() + off, size);
  }
  Result best{1e18, 0};
  for (int r = 0; r < rounds; r++) {
    const uint64_t a0 = g_allocs.load(std::memory_order_relaxed);
    const uint64_t t0 = thread_cpu_ns();
    for (const auto &[off, size] : s.recs) {
      each(s.bytes.data() + off, size);
    }
    const uint64_t t1 = thread_cpu_ns();
    const uint64_t a1 = g_allocs.load(std::memory_order_relaxed);
    const double ns = static_cast<double>(t1 - t0) / static_cast<double>(s.recs.size());
    if (ns < best.ns_per_record) {
      best.ns_per_record = ns;
      best.allocs_per_record = static_cast<double>(a1 - a0) / static_cast<double>(s.recs.size());
    }
  }
  return best;
}

void print(const char *stage, const Result &r) {
  std::printf("%-14s %12.0f %10.1f %12.2f\n", stage, 1e9 / r.ns_per_record, r.ns_per_record,
              r.allocs_per_record);
}

} // namespace

int main(int argc, char **argv) {
  size_t n = 1'000'000;
  int rounds = 5;
  std::string out = "/dev/null";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--records") {
      n = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (a == "--rounds") {
      rounds = std::max(1, std::atoi(argv[i + 1]));
    } else if (a == "--out") {
      out = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: replay [--records N] [--rounds R] [--out FILE]\n");
      return 2;
    }
  }
  if (n == 0) {
    n = 1;
  }
  const Stream stream = make_stream(n);
  const collect::Plan plan = make_plan();
  const core::ClockOffset clock(1'700'000'000'000'000'000LL);
  std::printf("# %zu records (%zu bytes), best of %d rounds, one thread, JSON Lines to %s\n",
              stream.recs.size(), stream.bytes.size(), rounds, out.c_str());
  std::printf("%-14s %12s %10s %12s\n", "stage", "records/s", "ns/record", "allocs/record");

  uint64_t sink = 0; // keeps the decode from being optimized away
  {
    core::Span span;
    ks_fn_span_rec fn;
    print("decode", run(stream, rounds, [&](const void *data, size_t size) {
            ks_hdr h;
            std::memcpy(&h, data, sizeof(h));
            if (h.kind == KS_REC_PAIR_SPAN) {
              auto p = collect::decode_pair_span(data, size, clock, plan.pairs);
              sink += p ? p->span_id : 0;
              return;
            }
            const bool ok = h.kind == KS_REC_FN_SPAN
                                ? collect::decode_span_part_into(
                                      span, fn, data, size, KS_REC_FN_SPAN,
                                      [](const ks_fn_span_rec &) { return true; }, clock, nullptr)
                                : collect::decode_span_into(span, data, size, clock);
            sink += ok ? span.span_id : 0;
          }));
  }
  {
    collect::RecordHandler handler(plan, clock);
    const collect::RecordHandler::SpanFn on_span = [&](core::Span &&s) { sink += s.span_id; };
    print("decode+name", run(stream, rounds, [&](const void *data, size_t size) {
            handler.handle(data, size, on_span);
          }));
  }
  {
    collect::RecordHandler handler(plan, clock);
    exporters::JsonlSink jsonl(out);
    const collect::RecordHandler::SpanFn on_span = [&](core::Span &&s) { jsonl.on_span(s); };
    print("+jsonl", run(stream, rounds, [&](const void *data, size_t size) {
            handler.handle(data, size, on_span);
          }));
  }
  for (const bool console : {false, true}) {
    collect::RecordHandler handler(plan, clock);
    std::vector<std::unique_ptr<exporters::Sink>> sinks;
    std::FILE *null = nullptr;
    if (console) {
      null = std::fopen("/dev/null", "w");
      if (null == nullptr) {
        break;
      }
      sinks.push_back(std::make_unique<exporters::ConsoleSink>(null));
    }
    sinks.push_back(std::make_unique<exporters::JsonlSink>(out));
    core::SpanStats stats;
    cli::SpanFanout fanout(stats, sinks, 0);
    const collect::RecordHandler::SpanFn on_span = [&](core::Span &&s) { fanout.on_span(s); };
    print(console ? "+console" : "+summary",
          run(stream, rounds,
              [&](const void *data, size_t size) { handler.handle(data, size, on_span); }));
    sinks.clear();
    if (null != nullptr) {
      std::fclose(null);
    }
  }
  std::fprintf(stderr, "# checksum %llu\n", static_cast<unsigned long long>(sink));
  return 0;
}
