// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "exporters/console.hpp"
#include "test_spans.hpp"

namespace kernspan::exporters {
namespace {

using kernspan::testing::child_span;
using kernspan::testing::root_span;

TEST(ConsoleSink, GoldenChildLine) {
  EXPECT_EQ(ConsoleSink::format_line(child_span(), true),
            "22:13:20.123456    1234 worker            parse  312.5us"
            "  trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7"
            " parent=1122334455667788 bytes=42 ok=true path=\"/x\" ratio=0.25");
}

TEST(ConsoleSink, GoldenRootLineNoParentNoIndent) {
  EXPECT_EQ(ConsoleSink::format_line(root_span(), true),
            "22:13:20.122456    1200 server          request  2.5ms"
            "  trace=4bf92f3577b34da6a3ce929d0e0e4736 span=1122334455667788");
}

TEST(ConsoleSink, IncompleteRemoteAndUnprintableName) {
  auto s = child_span();
  s.name = "re\nq";
  s.thread = "a-very-long-thread-name";
  s.depth = 3;
  s.incomplete = true;
  s.remote_parent = true;
  s.attributes.clear();
  EXPECT_EQ(ConsoleSink::format_line(s, true),
            "22:13:20.123456    1234 a-very-long-thread-name       re?q  312.5us INCOMPLETE"
            "  trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7"
            " parent=1122334455667788 (remote)");
}

TEST(ConsoleSink, WritesOneLinePerSpan) {
  char *buf = nullptr;
  size_t len = 0;
  std::FILE *mem = open_memstream(&buf, &len);
  ASSERT_NE(mem, nullptr);
  {
    ConsoleSink sink(mem, true);
    sink.on_span(child_span());
    sink.on_span(root_span());
    sink.close();
  }
  std::fclose(mem);
  const std::string out(buf, len);
  std::free(buf);
  EXPECT_EQ(out, ConsoleSink::format_line(child_span(), true) + "\n" +
                     ConsoleSink::format_line(root_span(), true) + "\n");
}

} // namespace
} // namespace kernspan::exporters
