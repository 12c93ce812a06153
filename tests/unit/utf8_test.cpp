// SPDX-License-Identifier: Apache-2.0
#include "exporters/utf8.hpp"

#include <gtest/gtest.h>

namespace kernspan::exporters {
namespace {

TEST(Utf8, ValidInputIsUnchanged) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("gr\xC3\xBC\xC3\x9F"
                         "e \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_EQ(sanitize_utf8("\xE2\x82\xAC"), "\xE2\x82\xAC");
  EXPECT_EQ(sanitize_utf8(""), "");
}

TEST(Utf8, IllFormedBytesBecomeOneReplacementEachMaximalSubpart) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_FALSE(valid_utf8("\xFF"));
  EXPECT_EQ(sanitize_utf8("a\xFF"
                          "b"),
            "a" + r + "b");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), r + r);                 // overlong: 2 bytes, 2 marks
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), r + r + r);         // surrogate
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80"), r + r + r + r); // above U+10FFFF
  EXPECT_EQ(sanitize_utf8("\xE2\x82"), r);                     // truncated: one maximal subpart
  EXPECT_EQ(sanitize_utf8("\xE2\x82z"), r + "z");
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"), r);
  EXPECT_TRUE(valid_utf8(sanitize_utf8("\x80\x81\xC3")));
}

} // namespace
} // namespace kernspan::exporters
