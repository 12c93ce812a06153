// SPDX-License-Identifier: Apache-2.0
// Human-readable numbers shared by the text exporters.
#pragma once

#include <cstdint>
#include <string>

namespace kernspan::exporters {

// "999ns", "312.5us", "1.0ms", "2.5s": below 1us as integer ns, otherwise
// one decimal in the largest unit (us, ms, s) that keeps the rounded value
// >= 1; a value that rounds up to a whole next unit moves up (999999ns ->
// "1.0ms", not "1000.0us").
std::string format_duration(uint64_t ns);

// "512B", "1.5KiB", "3.0MiB", "2.0GiB", "1.0TiB": same rounding rule, base 1024.
std::string format_bytes(uint64_t bytes);

// Replace control characters (including newlines) with '?', so one record
// stays on one line of a terminal.
std::string printable(const std::string &s);

} // namespace kernspan::exporters
