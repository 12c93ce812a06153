// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "exporters/format.hpp"

namespace kernspan::exporters {
namespace {

TEST(FormatDuration, Units) {
  EXPECT_EQ(format_duration(0), "0ns");
  EXPECT_EQ(format_duration(999), "999ns");
  EXPECT_EQ(format_duration(1000), "1.0us");
  EXPECT_EQ(format_duration(312'500), "312.5us");
  EXPECT_EQ(format_duration(1'500'000), "1.5ms");
  EXPECT_EQ(format_duration(2'500'000'000), "2.5s");
  EXPECT_EQ(format_duration(3'600'000'000'000), "3600.0s");
  EXPECT_EQ(format_duration(UINT64_MAX), "18446744073.7s");
}

TEST(FormatDuration, RoundsHalfUp) {
  EXPECT_EQ(format_duration(1049), "1.0us");
  EXPECT_EQ(format_duration(1050), "1.1us");
  EXPECT_EQ(format_duration(999'949), "999.9us");
}

TEST(FormatDuration, RoundingUpToTheNextUnitMovesUp) {
  EXPECT_EQ(format_duration(999'950), "1.0ms");
  EXPECT_EQ(format_duration(999'999'999), "1.0s");
}

TEST(FormatBytes, Units) {
  EXPECT_EQ(format_bytes(0), "0B");
  EXPECT_EQ(format_bytes(1023), "1023B");
  EXPECT_EQ(format_bytes(1024), "1.0KiB");
  EXPECT_EQ(format_bytes(1536), "1.5KiB");
  EXPECT_EQ(format_bytes(uint64_t{3} << 20), "3.0MiB");
  EXPECT_EQ(format_bytes(uint64_t{5} << 30), "5.0GiB");
  EXPECT_EQ(format_bytes(uint64_t{1} << 40), "1.0TiB");
  EXPECT_EQ(format_bytes(uint64_t{2048} << 40), "2048.0TiB");
}

TEST(FormatBytes, RoundingUpToTheNextUnitMovesUp) {
  EXPECT_EQ(format_bytes((uint64_t{1} << 20) - 1), "1.0MiB");
  EXPECT_EQ(format_bytes(uint64_t{1000} * 1024), "1000.0KiB");
}

TEST(Printable, ReplacesControlCharactersOnly) {
  EXPECT_EQ(printable("a\nb\tc\x7f"), "a?b?c?");
  EXPECT_EQ(printable("caf\xc3\xa9 ok"), "caf\xc3\xa9 ok");
}

} // namespace
} // namespace kernspan::exporters
