// SPDX-License-Identifier: Apache-2.0
// What the two OTLP encodings share (otlp_encode.cpp, OTLP/JSON, and
// otlp_protobuf.cpp): scope, flags and status text. Internal to exporters/.
#pragma once

#include <cstdint>

#include "core/span.hpp"

namespace kernspan::exporters::otlp_detail {

inline constexpr uint32_t kFlagHasIsRemote = 0x100; // Span.flags bit 8
inline constexpr uint32_t kFlagIsRemote = 0x200;    // Span.flags bit 9
inline constexpr const char *kScopeName = "kernspan";
inline constexpr const char *kScopeVersion = "0.1.0";
inline constexpr const char *kIncompleteMessage = "thread exited before the span ended";

inline uint32_t span_flags(const core::Span &s) {
  return kFlagHasIsRemote | (s.remote_parent ? kFlagIsRemote : 0);
}

} // namespace kernspan::exporters::otlp_detail
