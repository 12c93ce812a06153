// SPDX-License-Identifier: Apache-2.0
// --uprobe spec parsing, globbing and demangling (probe/functions).
#include "probe/error.hpp"
#include "probe/functions.hpp"

#include <gtest/gtest.h>

namespace kernspan::probe {
namespace {

std::string error_of(const std::string &spec) {
  try {
    parse_uprobe_spec(spec);
  } catch (const ProbeError &e) {
    return e.what();
  }
  return "";
}

TEST(UprobeSpec, ObjectPatternAndArgs) {
  auto s = parse_uprobe_spec("libc:malloc");
  EXPECT_EQ(s.object, "libc");
  EXPECT_EQ(s.pattern, "malloc");
  EXPECT_EQ(s.nargs, 0u);
  s = parse_uprobe_spec("app:ns::Cache::*,args=3");
  EXPECT_EQ(s.object, "app");
  EXPECT_EQ(s.pattern, "ns::Cache::*");
  EXPECT_EQ(s.nargs, 3u);
  s = parse_uprobe_spec("/usr/bin/app:f(int, int)");
  EXPECT_EQ(s.object, "/usr/bin/app");
  EXPECT_EQ(s.pattern, "f(int, int)") << "a comma inside a parameter list is not an option";
}

TEST(UprobeSpec, ErrorsPointAtTheCharacter) {
  EXPECT_NE(error_of("libc").find("missing ':' between OBJECT and PATTERN at character 5"),
            std::string::npos);
  EXPECT_NE(error_of(":malloc").find("empty OBJECT at character 1"), std::string::npos);
  EXPECT_NE(error_of("libc:").find("empty PATTERN at character 6"), std::string::npos);
  EXPECT_NE(error_of("libc:f,args=7").find("args must be 0..6 at character 13"), std::string::npos);
  EXPECT_NE(error_of("libc:f,bogus=1").find("unknown option 'bogus' at character 8"),
            std::string::npos);
}

TEST(Functions, DemangleAndGlob) {
  EXPECT_EQ(demangle("_ZNK4shop5Cache6lookupEi"), "shop::Cache::lookup(int) const");
  EXPECT_EQ(demangle("malloc"), "malloc");
  EXPECT_EQ(demangle("_Znot_valid"), "_Znot_valid");
  EXPECT_TRUE(glob_match("shop::Cache::*", "shop::Cache::lookup(int) const"));
  EXPECT_TRUE(glob_match("mal*", "malloc"));
  EXPECT_FALSE(glob_match("mal", "malloc"));
  EXPECT_TRUE(has_glob("a*"));
  EXPECT_FALSE(has_glob("shop::Cache::lookup"));
}

TEST(Functions, MatchRawDemangledAndWithoutParameters) {
  std::vector<ElfFunction> fns(3);
  fns[0].name = "_ZNK4shop5Cache6lookupEi";
  fns[0].demangled = demangle(fns[0].name);
  fns[1].name = fns[1].demangled = "malloc";
  fns[2].name = fns[2].demangled = "free";
  EXPECT_EQ(match_functions(fns, "shop::Cache::lookup").size(), 1u);
  EXPECT_EQ(match_functions(fns, "_ZNK4shop*").size(), 1u);
  EXPECT_EQ(match_functions(fns, "*").size(), 3u);
  const auto near = nearest_names(fns, "maloc", 2);
  ASSERT_EQ(near.size(), 2u);
  EXPECT_EQ(near[0], "malloc");
}

TEST(Functions, PlacementText) {
  Placement p;
  p.skip = 4;
  p.insn = "push";
  p.emulated = true;
  EXPECT_EQ(p.describe(), "entry+4 (after endbr64; push, emulated)");
  p.skip = 0;
  p.insn = "endbr64";
  p.emulated = false;
  EXPECT_EQ(p.describe(), "entry (endbr64, single-stepped)");
}

TEST(Functions, NearestObjectsForAMistypedLibraryName) {
  const std::vector<std::string> maps = {
      "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libssl.so.3",
      "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
      "/usr/bin/app"};
  EXPECT_EQ(nearest_objects(maps, "libsll", 1), std::vector<std::string>{"libssl.so.3"});
  EXPECT_EQ(nearest_objects(maps, "libcrypt", 1), std::vector<std::string>{"libcrypto.so.3"});
  EXPECT_EQ(nearest_objects(maps, "libstdc", 1), std::vector<std::string>{"libstdc++.so.6"});
  EXPECT_EQ(nearest_objects(maps, "libtypo").size(), 3u);
  EXPECT_TRUE(nearest_objects({}, "libc").empty());
}

} // namespace
} // namespace kernspan::probe
