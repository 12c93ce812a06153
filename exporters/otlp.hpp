// SPDX-License-Identifier: Apache-2.0
// OTLP/HTTP traces: spans pushed to an OpenTelemetry collector, Jaeger or
// Tempo (POST .../v1/traces), as protobuf or OTLP JSON, batched on a
// background thread (http_batch.hpp) so a slow or dead collector never
// stalls the consumer.
#pragma once

#include "exporters/http_batch.hpp"
#include "exporters/otlp_encode.hpp"
#include "exporters/sink.hpp"

namespace kernspan::exporters {

struct OtlpOptions : BatchOptions {
  HttpEndpoint endpoint;
  OtlpEncoding encoding = OtlpEncoding::kProtobuf;
  bool gzip = false;
  Attributes resource;
};

// Drops are counted as otlp_queue_full, otlp_rejected,
// otlp_retries_exhausted and otlp_shutdown (see HttpBatchSender).
class OtlpSink : public Sink {
public:
  explicit OtlpSink(const OtlpOptions &options);

  void on_span(const core::Span &span) override { sender_.enqueue(span); }
  void flush() override { sender_.flush(); }
  void close() override { sender_.close(); }
  void add_drops(core::DropCounts &out) const override { sender_.add_drops(out); }

  using Stats = HttpBatchSender::Stats;
  [[nodiscard]] Stats stats() const { return sender_.stats(); }

private:
  HttpBatchSender sender_;
};

} // namespace kernspan::exporters
