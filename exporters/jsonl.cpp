// SPDX-License-Identifier: Apache-2.0
#include "exporters/jsonl.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace kernspan::exporters {

namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kBufferBytes = size_t{1} << 20;

} // namespace

JsonlSink::JsonlSink(const std::string &path) {
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr) {
    throw std::runtime_error("jsonl: cannot open '" + path +
                             "' for writing: " + std::strerror(errno));
  }
  std::setvbuf(file_, nullptr, _IOFBF, kBufferBytes);
}

JsonlSink::~JsonlSink() {
  JsonlSink::close();
}

std::string JsonlSink::format_line(const core::Span &span) {
  Json j;
  j["name"] = span.name;
  j["trace_id"] = span.trace_id.hex();
  j["span_id"] = core::span_id_hex(span.span_id);
  j["parent_span_id"] = span.parent_span_id ? core::span_id_hex(span.parent_span_id) : "";
  j["start_unix_nano"] = span.start_unix_nano;
  j["end_unix_nano"] = span.end_unix_nano;
  j["tgid"] = span.tgid;
  j["tid"] = span.tid;
  j["thread"] = span.thread;
  Json attrs = Json::object();
  for (const auto &entry : span.attributes) {
    std::visit([&](const auto &v) { attrs[entry.first] = v; }, entry.second);
  }
  if (span.incomplete) {
    attrs["kernspan.incomplete"] = true;
  }
  if (span.remote_parent) {
    attrs["kernspan.remote_parent"] = true;
  }
  j["attributes"] = std::move(attrs);
  if (span.has_costs) {
    Json costs = Json::object();
    core::for_each_cost(span.costs, [&](const char *key, uint64_t v) { costs[key] = v; });
    j["costs"] = std::move(costs);
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void JsonlSink::on_span(const core::Span &span) {
  if (file_ == nullptr) {
    ++write_errors_;
    return;
  }
  std::string line = format_line(span);
  line.push_back('\n');
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
    ++write_errors_;
  }
}

void JsonlSink::flush() {
  if (file_ != nullptr && std::fflush(file_) != 0) {
    ++write_errors_;
  }
}

void JsonlSink::close() {
  if (file_ == nullptr) {
    return;
  }
  flush();
  if (std::fclose(file_) != 0) {
    ++write_errors_;
  }
  file_ = nullptr;
}

} // namespace kernspan::exporters
