// SPDX-License-Identifier: Apache-2.0
// The no-op decoder that tells which probe sites the kernel may optimize.
// Expected lengths are the assembler's (GNU as, x86-64): each encoding here
// is what `.nops N` or a hand-written nop assembles to.
#include "probe/x86_nop.hpp"

#include <cstdint>
#include <gtest/gtest.h>
#include <vector>

namespace kernspan::probe {
namespace {

size_t len(std::vector<uint8_t> b) {
  return x86_nop_length(b);
}

TEST(X86Nop, TheAssemblersNopsHaveTheirLengths) {
  EXPECT_EQ(len({0x90}), 1u);
  EXPECT_EQ(len({0x66, 0x90}), 2u);
  EXPECT_EQ(len({0x0f, 0x1f, 0x00}), 3u);
  EXPECT_EQ(len({0x0f, 0x1f, 0x40, 0x00}), 4u);
  EXPECT_EQ(len({0x0f, 0x1f, 0x44, 0x00, 0x00}), 5u); // kernspan.h's site
  EXPECT_EQ(len({0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00}), 6u);
  EXPECT_EQ(len({0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00}), 7u);
  EXPECT_EQ(len({0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00}), 8u);
  EXPECT_EQ(len({0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00}), 9u);
  EXPECT_EQ(len({0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00}), 10u);
}

TEST(X86Nop, EveryFiveByteNopIsOptimizable) {
  EXPECT_TRUE(is_optimizable_nop5(std::vector<uint8_t>{0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3}));
  EXPECT_TRUE(is_optimizable_nop5(std::vector<uint8_t>{0x66, 0x66, 0x66, 0x66, 0x90}));
  EXPECT_TRUE(is_optimizable_nop5(std::vector<uint8_t>{0x66, 0x0f, 0x1f, 0x40, 0x00}));
  // A RIP-relative NOPL carries a 32-bit displacement: 7 bytes, not 5.
  EXPECT_FALSE(is_optimizable_nop5(std::vector<uint8_t>{0x0f, 0x1f, 0x05, 0, 0, 0, 0}));
  EXPECT_EQ(len({0x0f, 0x1f, 0x05, 0x00, 0x00, 0x00, 0x00}), 7u);
  // sys/sdt.h's site is one byte: emulated, never optimized.
  EXPECT_FALSE(is_optimizable_nop5(std::vector<uint8_t>{0x90, 0x48, 0x89, 0xc7}));
}

TEST(X86Nop, OtherInstructionsAndCutBytesAreNotNops) {
  EXPECT_EQ(len({0xf3, 0x0f, 0x1e, 0xfa}), 0u);       // endbr64
  EXPECT_EQ(len({0x55}), 0u);                         // push %rbp
  EXPECT_EQ(len({0xe8, 0x00, 0x00, 0x00, 0x00}), 0u); // call
  EXPECT_EQ(len({0xcc, 0x1f, 0x44, 0x00, 0x00}), 0u); // int3 over a nop
  EXPECT_EQ(len({0x0f, 0x1f, 0x4c, 0x00, 0x00}), 0u); // 0f 1f /1 is not a NOP
  EXPECT_EQ(len({0x0f, 0x1f, 0x44, 0x00}), 0u);       // cut before its end
  EXPECT_EQ(len({0x66, 0x66}), 0u);                   // prefixes only
  EXPECT_EQ(len({}), 0u);
}

} // namespace
} // namespace kernspan::probe
