// SPDX-License-Identifier: Apache-2.0
// Zipkin v2: spans POSTed as a JSON array to a Zipkin server (or anything
// speaking its API, e.g. Jaeger's or the OpenTelemetry Collector's Zipkin
// receiver), batched off the consumer thread like OTLP (http_batch.hpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/span.hpp"
#include "exporters/http_batch.hpp"

namespace kernspan::exporters {

// A JSON array of Zipkin v2 spans (the zipkin2 API's ListOfSpans):
//   traceId      32 lowercase hex
//   parentId     16 hex; left out for a root (a remote parent is kept)
//   id           16 hex
//   name         the span name as the program gave it. Zipkin's own
//                libraries lowercase names (and service names) and its
//                server does so on ingest; kernspan sends them unchanged
//                so other receivers of this format see the original.
//   timestamp    start, Unix microseconds (integer, rounded down)
//   duration     microseconds from timestamp to the end rounded up, at
//                least 1 (so a child never outlasts its parent by rounding)
//   localEndpoint {"serviceName": service}
//   tags         every value a string: the span's attributes, thread.id,
//                thread.name, kernspan.remote_parent, kernspan.incomplete
//                plus error (Zipkin's failure tag) for incomplete spans,
//                and each cost as kernspan.<key> when the span has costs;
//                sorted by key
// kind is left out (kernspan spans are in-process work). Invalid UTF-8
// becomes U+FFFD.
std::string encode_zipkin(const std::vector<core::Span> &spans, std::string_view service);

struct ZipkinOptions : BatchOptions {
  HttpEndpoint endpoint; // POST target, e.g. http://localhost:9411/api/v2/spans
  std::string service;
  bool gzip = false;
};

// Drops are counted as zipkin_queue_full, zipkin_rejected,
// zipkin_retries_exhausted and zipkin_shutdown (see HttpBatchSender).
class ZipkinSink : public HttpBatchSink {
public:
  explicit ZipkinSink(const ZipkinOptions &options);
};

} // namespace kernspan::exporters
