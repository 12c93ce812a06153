// SPDX-License-Identifier: Apache-2.0
#include "exporters/otlp.hpp"

namespace kernspan::exporters {

OtlpSink::OtlpSink(const OtlpOptions &options)
    : HttpBatchSink({"otlp", options.endpoint,
                     options.encoding == OtlpEncoding::kProtobuf ? "application/x-protobuf"
                                                                 : "application/json",
                     options.gzip},
                    options,
                    [resource = options.resource,
                     encoding = options.encoding](const std::vector<core::Span> &spans) {
                      return encode_otlp(spans, resource, encoding);
                    }) {}

} // namespace kernspan::exporters
