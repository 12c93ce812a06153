// SPDX-License-Identifier: Apache-2.0
// A file the span sinks write (-o FILE): records gathered in a 1 MiB buffer
// and written out with write(2), on the consumer thread. It knows how many
// spans each record holds, so a failed write counts the spans lost (not
// the writes), and a record is never left cut in a regular file.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace kernspan::exporters {

class OutputFile {
public:
  // Truncates or creates `path`; throws std::runtime_error with a one-line
  // message ("<what>: cannot open 'PATH' for writing: <reason>") if it can't.
  OutputFile(const std::string &path, const char *what);
  ~OutputFile();
  OutputFile(const OutputFile &) = delete;
  OutputFile &operator=(const OutputFile &) = delete;

  // Appends one record (whole lines, or a file's header or trailer with
  // spans = 0) holding `spans` spans; the buffer is written out when it
  // holds 1 MiB. After close() the spans are counted lost.
  void write(std::string_view data, uint64_t spans);
  // Writes out what is buffered. At the first failure one line goes to
  // stderr ("kernspan: cannot write PATH: <reason>; spans are being
  // dropped"); later writes are still tried (space may come back).
  void flush();
  // Flushes and closes; a no-op when closed.
  void close();
  [[nodiscard]] bool is_open() const { return fd_ >= 0; }
  // Spans in records that could not be written, or came after close().
  [[nodiscard]] uint64_t lost_spans() const { return lost_.load(std::memory_order_relaxed); }
  // Did a write to the file fail (disk full, I/O error)?
  [[nodiscard]] bool failed() const { return failed_.load(std::memory_order_relaxed); }

private:
  void write_out();

  std::string path_;
  int fd_ = -1;
  bool regular_ = false; // a regular file: a cut record can be truncated away
  off_t written_ = 0;    // bytes of whole records in the file
  std::string buf_;
  std::vector<std::pair<size_t, uint64_t>> records_; // end in buf_, spans
  std::atomic<uint64_t> lost_{0};
  std::atomic<bool> failed_{false};
};

} // namespace kernspan::exporters
