// SPDX-License-Identifier: Apache-2.0
// OTLP/HTTP traces: spans pushed to an OpenTelemetry collector, Jaeger or
// Tempo (POST .../v1/traces), as protobuf or OTLP JSON, batched on a
// background thread (http_batch.hpp) so a slow or dead collector never
// stalls the consumer.
#pragma once

#include "exporters/http_batch.hpp"
#include "exporters/otlp_encode.hpp"

namespace kernspan::exporters {

struct OtlpOptions : BatchOptions {
  HttpEndpoint endpoint;
  OtlpEncoding encoding = OtlpEncoding::kProtobuf;
  bool gzip = false;
  Attributes resource;
};

// Drops are counted as otlp_queue_full, otlp_rejected,
// otlp_retries_exhausted and otlp_shutdown (see HttpBatchSender).
class OtlpSink : public HttpBatchSink {
public:
  explicit OtlpSink(const OtlpOptions &options);
};

} // namespace kernspan::exporters
