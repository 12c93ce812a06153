// SPDX-License-Identifier: Apache-2.0
// A file the span sinks write (-o FILE): opened for writing with a 1 MiB
// stdio buffer, written on the consumer thread.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace kernspan::exporters {

class OutputFile {
public:
  // Truncates or creates `path`; throws std::runtime_error with a one-line
  // message ("<what>: cannot open 'PATH' for writing: <reason>") if it can't.
  OutputFile(const std::string &path, const char *what);
  ~OutputFile();
  OutputFile(const OutputFile &) = delete;
  OutputFile &operator=(const OutputFile &) = delete;

  // False when the data could not be written (or the file is closed).
  // stdio buffers: a full disk may only show at a later write or flush.
  bool write(std::string_view data);
  // False when buffered data could not be written; true once closed.
  bool flush();
  // False when the last buffered data could not be written; true if the
  // file was already closed.
  bool close();
  [[nodiscard]] bool is_open() const { return file_ != nullptr; }

private:
  std::FILE *file_ = nullptr;
};

} // namespace kernspan::exporters
