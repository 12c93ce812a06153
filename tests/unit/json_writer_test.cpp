// SPDX-License-Identifier: Apache-2.0
#include "exporters/json_writer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kernspan::exporters {
namespace {

std::string as_json(std::string_view s) {
  std::string out;
  JsonWriter::append_string(out, s);
  return out;
}

TEST(JsonWriter, EscapesPerRfc8259) {
  EXPECT_EQ(as_json("plain"), "\"plain\"");
  EXPECT_EQ(as_json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(as_json("\n\r\t"), "\"\\n\\r\\t\"");
  EXPECT_EQ(as_json(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(as_json(std::string("a\0b", 3)), "\"a\\u0000b\"");
}

TEST(JsonWriter, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(as_json("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(as_json("\xFF"), "\"" + fffd + "\"");                       // never valid
  EXPECT_EQ(as_json("\xC0\xAF"), "\"" + fffd + fffd + "\"");            // overlong '/'
  EXPECT_EQ(as_json("\xED\xA0\x80"), "\"" + fffd + fffd + fffd + "\""); // surrogate
  // One U+FFFD per maximal invalid subpart (Unicode's recommended practice).
  EXPECT_EQ(as_json("a\xE2\x82"), "\"a" + fffd + "\"");                            // truncated
  EXPECT_EQ(as_json("a\xE2\x82z"), "\"a" + fffd + "z\"");                          // cut short
  EXPECT_EQ(as_json("\xF4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\""); // > U+10FFFF
}

TEST(JsonWriter, ObjectsNumbersAndRoundTrip) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("u");
  w.value(uint64_t{18446744073709551615u});
  w.key("i");
  w.value(int64_t{-42});
  w.key("b");
  w.value(false);
  w.key("d");
  w.value(0.5);
  w.key("nan");
  w.value(std::nan(""));
  w.key("o");
  w.begin_object();
  w.key("k");
  w.value("v\xFF");
  w.end_object();
  w.key("empty");
  w.begin_object();
  w.end_object();
  w.end_object();
  EXPECT_EQ(out, "{\"u\":18446744073709551615,\"i\":-42,\"b\":false,\"d\":0.5,\"nan\":null,"
                 "\"o\":{\"k\":\"v\xEF\xBF\xBD\"},\"empty\":{}}");
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["u"].get<uint64_t>(), 18446744073709551615u);
  EXPECT_EQ(j["o"]["k"], "v\xEF\xBF\xBD");
}

TEST(JsonWriter, ArraysNestAndSeparate) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("a");
  w.begin_array();
  w.value(uint64_t{1});
  w.begin_object();
  w.key("k");
  w.begin_array();
  w.end_array();
  w.end_object();
  w.raw("2.500");
  w.end_array();
  w.key("z");
  w.value(true);
  w.end_object();
  EXPECT_EQ(out, R"({"a":[1,{"k":[]},2.500],"z":true})");
  EXPECT_TRUE(nlohmann::json::accept(out));
}

} // namespace
} // namespace kernspan::exporters
