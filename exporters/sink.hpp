// SPDX-License-Identifier: Apache-2.0
// The one interface every exporter implements. Sinks see core types only.
#pragma once

#include "core/span.hpp"
#include "core/stats.hpp"

namespace kernspan::exporters {

class Sink {
public:
  virtual ~Sink() = default;
  Sink() = default;
  Sink(const Sink &) = delete;
  Sink &operator=(const Sink &) = delete;

  // Called on the consumer thread for each finished span; must not block
  // for long (a slow destination queues and counts its own drops).
  virtual void on_span(const core::Span &span) = 0;
  // Push out anything buffered; called periodically and before close().
  virtual void flush() {}
  // Final flush on exit; after close() no more spans arrive.
  virtual void close() { flush(); }
  // Add this sink's drop counters (queue full, rejected batches, ...) to
  // `out`, by place; thread-safe. Sinks that never drop add nothing.
  virtual void add_drops(core::DropCounts & /*out*/) const {}
  // Did the destination refuse data that should have been kept (a file
  // that could not be written)? The run then ends with a non-zero status.
  [[nodiscard]] virtual bool write_failed() const { return false; }
};

} // namespace kernspan::exporters
