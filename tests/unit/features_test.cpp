// SPDX-License-Identifier: Apache-2.0
// BtfTypes, the walker behind the feature probes: on a blob built here by
// hand, on malformed blobs, and on the kernel's own BTF against libbpf's
// index (btf__find_by_name_kind) as the oracle. No root: the kernel's BTF
// is world-readable.
#include "collect/features.hpp"

#include <bpf/btf.h>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <linux/btf.h>
#include <string>
#include <vector>

namespace kernspan::collect {
namespace {

void put32(std::vector<char> &b, uint32_t v) {
  const auto *p = reinterpret_cast<const char *>(&v);
  b.insert(b.end(), p, p + 4);
}

// types: 1 int "int", 2 struct "pair" {a, b}, 3 typedef "pair_t" -> 2.
std::vector<char> tiny_btf() {
  const std::string strings("\0int\0pair\0a\0b\0pair_t\0", 21);
  std::vector<char> types;
  put32(types, 1); // "int"
  put32(types, BTF_KIND_INT << 24);
  put32(types, 4);
  put32(types, 32); // encoding: 32 bits
  put32(types, 5);  // "pair"
  put32(types, (BTF_KIND_STRUCT << 24) | 2);
  put32(types, 8);
  for (const uint32_t name : {10U, 12U}) { // "a", "b"
    put32(types, name);
    put32(types, 1);
    put32(types, name == 10 ? 0 : 32);
  }
  put32(types, 14); // "pair_t"
  put32(types, BTF_KIND_TYPEDEF << 24);
  put32(types, 2);
  std::vector<char> blob;
  blob.reserve(24 + types.size() + strings.size());
  blob.push_back(static_cast<char>(0x9f)); // magic 0xeB9F, little-endian
  blob.push_back(static_cast<char>(0xeb));
  blob.push_back(1); // version
  blob.push_back(0); // flags
  put32(blob, 24);   // hdr_len
  put32(blob, 0);    // type_off
  put32(blob, static_cast<uint32_t>(types.size()));
  put32(blob, static_cast<uint32_t>(types.size())); // str_off
  put32(blob, static_cast<uint32_t>(strings.size()));
  blob.insert(blob.end(), types.begin(), types.end());
  blob.insert(blob.end(), strings.begin(), strings.end());
  return blob;
}

TEST(BtfTypes, FindsTypesAndMembersOfAHandBuiltBlob) {
  const auto blob = tiny_btf();
  auto btf = BtfTypes::parse(blob);
  ASSERT_TRUE(btf.has_value());
  EXPECT_EQ(btf->find("int", BTF_KIND_INT), 1U);
  EXPECT_EQ(btf->find("pair", BTF_KIND_STRUCT), 2U);
  EXPECT_EQ(btf->find("pair_t", BTF_KIND_TYPEDEF), 3U);
  EXPECT_EQ(btf->find("pair", BTF_KIND_TYPEDEF), 0U); // right name, wrong kind
  EXPECT_TRUE(btf->has_member("pair", "b"));
  EXPECT_FALSE(btf->has_member("pair", "c"));
  EXPECT_FALSE(btf->has_member("pair_t", "a")); // a typedef has no members
}

TEST(BtfTypes, RefusesMalformedBlobs) {
  const auto good = tiny_btf();
  auto truncated = good;
  truncated.resize(good.size() - 30); // the strings and part of the types cut off
  EXPECT_FALSE(BtfTypes::parse(truncated).has_value());
  auto bad_magic = good;
  bad_magic[0] = 0;
  EXPECT_FALSE(BtfTypes::parse(bad_magic).has_value());
  auto long_struct = good; // the struct claims 200 members: past the type section
  const uint32_t info = (BTF_KIND_STRUCT << 24) | 200;
  std::memcpy(long_struct.data() + 24 + 16 + 4, &info, 4);
  EXPECT_FALSE(BtfTypes::parse(long_struct).has_value());
  auto unknown_kind = good; // a kind this walker does not know the size of
  const uint32_t kind31 = 31U << 24;
  std::memcpy(unknown_kind.data() + 24 + 4, &kind31, 4);
  EXPECT_FALSE(BtfTypes::parse(unknown_kind).has_value());
  EXPECT_FALSE(BtfTypes::parse({}).has_value());
}

TEST(BtfTypes, AgreesWithLibbpfOnTheKernelsBtf) {
  std::ifstream in("/sys/kernel/btf/vmlinux", std::ios::binary);
  ASSERT_TRUE(in.good()) << "no kernel BTF";
  const std::vector<char> raw((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
  auto mine = BtfTypes::parse(raw);
  ASSERT_TRUE(mine.has_value());
  btf *theirs = btf__load_vmlinux_btf();
  ASSERT_NE(theirs, nullptr);
  const std::vector<std::pair<const char *, uint32_t>> queries = {
      {"task_struct", BTF_KIND_STRUCT},
      {"sched_entity", BTF_KIND_STRUCT},
      {"btf_trace_sched_switch", BTF_KIND_TYPEDEF},
      {"btf_trace_sched_process_exit", BTF_KIND_TYPEDEF},
      {"pid_t", BTF_KIND_TYPEDEF},
      {"kernspan_no_such_type", BTF_KIND_STRUCT},
  };
  for (const auto &[name, kind] : queries) {
    const int id = btf__find_by_name_kind(theirs, name, kind);
    EXPECT_EQ(mine->find(name, kind), id > 0 ? static_cast<uint32_t>(id) : 0U) << name;
  }
  // Members, against libbpf's view of the same struct.
  const int task = btf__find_by_name_kind(theirs, "task_struct", BTF_KIND_STRUCT);
  ASSERT_GT(task, 0);
  const btf_type *t = btf__type_by_id(theirs, static_cast<uint32_t>(task));
  const auto *m = reinterpret_cast<const btf_member *>(t + 1);
  for (uint32_t i = 0; i < BTF_INFO_VLEN(t->info); i++) {
    const char *member = btf__name_by_offset(theirs, m[i].name_off);
    if (member != nullptr && member[0] != '\0') {
      EXPECT_TRUE(mine->has_member("task_struct", member)) << member;
    }
  }
  EXPECT_FALSE(mine->has_member("task_struct", "kernspan_no_such_member"));
  btf__free(theirs);
}

} // namespace
} // namespace kernspan::collect
