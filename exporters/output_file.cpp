// SPDX-License-Identifier: Apache-2.0
#include "exporters/output_file.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kernspan::exporters {
namespace {

constexpr size_t kBufferBytes = size_t{1} << 20;

} // namespace

OutputFile::OutputFile(const std::string &path, const char *what) {
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr) {
    throw std::runtime_error(std::string(what) + ": cannot open '" + path +
                             "' for writing: " + std::strerror(errno));
  }
  std::setvbuf(file_, nullptr, _IOFBF, kBufferBytes);
}

OutputFile::~OutputFile() {
  close();
}

bool OutputFile::write(std::string_view data) {
  return file_ != nullptr && std::fwrite(data.data(), 1, data.size(), file_) == data.size();
}

bool OutputFile::flush() {
  return file_ == nullptr || std::fflush(file_) == 0;
}

bool OutputFile::close() {
  if (file_ == nullptr) {
    return true;
  }
  const bool ok = std::fclose(file_) == 0;
  file_ = nullptr;
  return ok;
}

} // namespace kernspan::exporters
