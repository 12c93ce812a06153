// SPDX-License-Identifier: Apache-2.0
// /proc/PID/maps parsing: real lines as the kernel writes them, and lines it
// never writes (found by fuzzing), which are skipped rather than kept or
// thrown on.
#include "probe/proc_maps.hpp"

#include <gtest/gtest.h>

namespace kernspan::probe {
namespace {

TEST(ProcMaps, KernelLinesAreParsed) {
  const auto maps =
      parse_maps("55d4dd7db000-55d4dd8c7000 r-xp 0000e000 fe:00 5309265    /usr/bin/kernspan\n"
                 "7ffd1c5e0000-7ffd1c601000 rw-p 00000000 00:00 0          [stack]\n"
                 "7f00aa000000-7f00aa021000 r-xp 0001e000 fe:00 12 /lib/x.so (deleted)\n");
  ASSERT_EQ(maps.size(), 3u);
  EXPECT_EQ(maps[0].start, 0x55d4dd7db000u);
  EXPECT_EQ(maps[0].end, 0x55d4dd8c7000u);
  EXPECT_EQ(maps[0].offset, 0xe000u);
  EXPECT_EQ(maps[0].inode, 5309265u);
  EXPECT_EQ(maps[0].perms, "r-xp");
  EXPECT_EQ(maps[0].path, "/usr/bin/kernspan");
  EXPECT_EQ(maps[1].path, "[stack]");
  EXPECT_EQ(maps[2].path, "/lib/x.so (deleted)");
}

TEST(ProcMaps, RangesThatAreNotMappingsAreSkipped) {
  // An end below its start (the fuzzer's first find), non-hex ends, an
  // empty end, a number too large for 64 bits: none throws, none is kept.
  const auto maps = parse_maps("525d4dd7cd000-55d4dd7db000 r--p 00000000 fe:00 1 /a\n"
                               "zz-55d4dd7db000 r--p 00000000 fe:00 1 /b\n"
                               "1000- r--p 00000000 fe:00 1 /c\n"
                               "1000-2000x r--p 00000000 fe:00 1 /d\n"
                               "1000-fffffffffffffffff r--p 00000000 fe:00 1 /e\n"
                               "2000-2000 r--p 00000000 fe:00 1 /f\n"
                               "1000-2000 r--p 00000000 fe:00 1 /ok\n");
  ASSERT_EQ(maps.size(), 1u);
  EXPECT_EQ(maps[0].path, "/ok");
}

} // namespace
} // namespace kernspan::probe
