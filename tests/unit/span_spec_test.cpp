// SPDX-License-Identifier: Apache-2.0
// --span's name= forms, and pair records named by a normalized text.
#include "collect/pairs.hpp"
#include "probe/error.hpp"
#include "probe/span_spec.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace kernspan {
namespace {

using probe::NameForm;
using probe::parse_span_spec;

std::string error_of(const std::string &spec) {
  try {
    (void)parse_span_spec(spec);
  } catch (const probe::ProbeError &e) {
    return e.what();
  }
  return "";
}

TEST(SpanSpecNames, LiteralAndArgument) {
  auto s = parse_span_spec("p:a..p:b");
  EXPECT_EQ(s.literal_name, "a");
  EXPECT_EQ(s.name.index, -1);
  s = parse_span_spec("p:a..p:b,name=arg1");
  EXPECT_EQ(s.name.index, 1);
  EXPECT_EQ(s.name_form, NameForm::kAsIs);
  s = parse_span_spec("p:a..p:b,name=work");
  EXPECT_EQ(s.literal_name, "work");
  EXPECT_EQ(s.name.index, -1);
}

TEST(SpanSpecNames, SqlAndNorm) {
  auto s = parse_span_spec("postgresql:query__start..postgresql:query__done,name=sql(arg0)");
  EXPECT_EQ(s.name.index, 0);
  EXPECT_FALSE(s.name.from_end);
  EXPECT_TRUE(s.name.is_string);
  EXPECT_EQ(s.name_form, NameForm::kSql);
  s = parse_span_spec("p:a..p:b,name=norm(end.arg2),id=arg0");
  EXPECT_EQ(s.name.index, 2);
  EXPECT_TRUE(s.name.from_end);
  EXPECT_EQ(s.name_form, NameForm::kText);
  EXPECT_EQ(s.id_arg, 0);
}

TEST(SpanSpecNames, SqlAndNormErrorsPointAtTheCharacter) {
  EXPECT_NE(error_of("p:a..p:b,name=sql(arg0").find("missing ')' at character 23"),
            std::string::npos)
      << error_of("p:a..p:b,name=sql(arg0");
  EXPECT_NE(error_of("p:a..p:b,name=sql()").find("expected argN or end.argN at character 19"),
            std::string::npos)
      << error_of("p:a..p:b,name=sql()");
  EXPECT_NE(error_of("p:a..p:b,name=norm(query)").find("expected argN or end.argN"),
            std::string::npos);
  EXPECT_NE(error_of("p:a..p:b,name=sql(arg12)").find("at most 12 arguments"), std::string::npos);
  EXPECT_NE(error_of("p:a..p:b,name=sql(str(arg0))").find("expected argN or end.argN"),
            std::string::npos);
}

// A pair span record as pairs.bpf.c sends it, named `text` (state: its
// KS_STR_* state).
std::vector<char> pair_record(const std::string &text, uint8_t state = 0) {
  ks_pair_span_rec r{};
  r.span.hdr.kind = KS_REC_PAIR_SPAN;
  r.span.hdr.size = static_cast<__u16>(sizeof(r) + text.size());
  r.span.hdr.tgid = 10;
  r.span.hdr.tid = 11;
  r.span.start_ns = 1000;
  r.span.end_ns = 3000;
  r.span.span_id = 1;
  r.span.trace_id_lo = 2;
  r.span.flags = KS_SPAN_COMM_OMITTED;
  r.str_len[KS_PAIR_STR_NAME] = static_cast<__u16>(text.size());
  r.str_state[KS_PAIR_STR_NAME] = state;
  r.pair_id = 0;
  std::vector<char> out(sizeof(r));
  std::memcpy(out.data(), &r, sizeof(r));
  out.insert(out.end(), text.begin(), text.end());
  return out;
}

core::Span decode(const std::string &spec, const std::string &text, uint8_t state = 0) {
  const std::vector<probe::SpanSpec> pairs{parse_span_spec(spec)};
  const auto rec = pair_record(text, state);
  auto span = collect::decode_pair_span(rec.data(), rec.size(), core::ClockOffset(0), pairs);
  EXPECT_TRUE(span.has_value());
  return span ? *span : core::Span{};
}

TEST(PairNames, SqlNamesByTheStatementAndKeepsTheText) {
  const auto s = decode("postgresql:query__start..postgresql:query__done,name=sql(arg0)",
                        "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;");
  EXPECT_EQ(s.name, "SELECT abalance FROM pgbench_accounts WHERE aid = $1;");
  EXPECT_EQ(std::get<std::string>(s.attributes.at("db.query.text")),
            "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;");
  EXPECT_EQ(std::get<std::string>(s.attributes.at("db.system")), "postgresql");
  EXPECT_EQ(s.attributes.count("kernspan.text_truncated"), 0u);
}

TEST(PairNames, SqlOnAnotherProviderHasNoDbSystem) {
  const auto s = decode("mysql:query__start..mysql:query__done,name=sql(arg0)", "SELECT 1");
  EXPECT_EQ(s.name, "SELECT $1");
  EXPECT_EQ(s.attributes.count("db.system"), 0u);
  EXPECT_EQ(std::get<std::string>(s.attributes.at("db.query.text")), "SELECT 1");
}

TEST(PairNames, NormNamesByTheTextAndKeepsIt) {
  const auto s = decode("app:req_start..app:req_done,name=norm(arg0)", "GET /users/12345");
  EXPECT_EQ(s.name, "GET /users/?");
  EXPECT_EQ(std::get<std::string>(s.attributes.at("kernspan.text")), "GET /users/12345");
  EXPECT_EQ(s.attributes.count("db.query.text"), 0u);
}

TEST(PairNames, TextTheKernelCutIsMarked) {
  const std::string kept = "UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE a";
  const auto s =
      decode("postgresql:query__start..postgresql:query__done,name=sql(arg0)", kept, KS_STR_CUT);
  EXPECT_EQ(std::get<std::string>(s.attributes.at("db.query.text")), kept + "\xE2\x80\xA6");
  EXPECT_EQ(std::get<bool>(s.attributes.at("kernspan.text_truncated")), true);
  // A long text not cut is not marked.
  const std::string whole(300, 'x');
  const auto w = decode("p:a..p:b,name=norm(arg0)", whole);
  EXPECT_EQ(std::get<std::string>(w.attributes.at("kernspan.text")), whole);
  EXPECT_EQ(w.attributes.count("kernspan.text_truncated"), 0u);
}

// Records whose string lengths do not add up to hdr.size, or whose hdr.size
// is past what arrived, are refused.
TEST(PairNames, StringLengthsMustAddUp) {
  const std::vector<probe::SpanSpec> pairs{parse_span_spec("p:a..p:b,name=arg0")};
  auto rec = pair_record("abcd");
  collect::DecodeError err{};
  EXPECT_TRUE(collect::decode_pair_span(rec.data(), rec.size(), core::ClockOffset(0), pairs, &err)
                  .has_value());
  // One byte missing from the buffer.
  EXPECT_FALSE(
      collect::decode_pair_span(rec.data(), rec.size() - 1, core::ClockOffset(0), pairs, &err)
          .has_value());
  EXPECT_EQ(err, collect::DecodeError::kBadSize);
  // A length that claims more than hdr.size holds.
  ks_pair_span_rec r{};
  std::memcpy(&r, rec.data(), sizeof(r));
  r.str_len[2] = 1;
  std::memcpy(rec.data(), &r, sizeof(r));
  EXPECT_FALSE(collect::decode_pair_span(rec.data(), rec.size(), core::ClockOffset(0), pairs, &err)
                   .has_value());
  EXPECT_EQ(err, collect::DecodeError::kBadSize);
  // A length past KS_MAX_STRING, even if hdr.size agreed (it cannot: __u16).
  r.str_len[2] = 0;
  r.str_len[1] = KS_MAX_STRING + 1;
  std::memcpy(rec.data(), &r, sizeof(r));
  EXPECT_FALSE(collect::decode_pair_span(rec.data(), rec.size(), core::ClockOffset(0), pairs, &err)
                   .has_value());
}

TEST(PairNames, StringAttributesAreUnpackedInOrder) {
  const std::vector<probe::SpanSpec> pairs{
      parse_span_spec("p:a..p:b,name=arg0,attr.n=arg1,attr.f=str(arg2),attr.g=str(end.arg0)")};
  ks_pair_span_rec r{};
  r.span.hdr.kind = KS_REC_PAIR_SPAN;
  const std::string name = "nm", f = "file\xC3", g;
  r.str_len[0] = 2;
  r.str_len[2] = static_cast<__u16>(f.size());
  r.str_state[2] = KS_STR_CUT;
  r.str_state[3] = KS_STR_UNREADABLE;
  r.ints[0] = 7;
  r.span.hdr.size = static_cast<__u16>(sizeof(r) + name.size() + f.size());
  std::vector<char> rec(sizeof(r));
  std::memcpy(rec.data(), &r, sizeof(r));
  rec.insert(rec.end(), name.begin(), name.end());
  rec.insert(rec.end(), f.begin(), f.end());
  const auto s = collect::decode_pair_span(rec.data(), rec.size(), core::ClockOffset(0), pairs);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, "nm");
  EXPECT_EQ(std::get<int64_t>(s->attributes.at("n")), 7);
  EXPECT_EQ(std::get<std::string>(s->attributes.at("f")), "file\xE2\x80\xA6");
  EXPECT_EQ(std::get<std::string>(s->attributes.at("g")), "");
}

TEST(PairNames, AsIsAndUnreadable) {
  EXPECT_EQ(decode("p:a..p:b,name=arg0", "x = 5").name, "x = 5");
  EXPECT_EQ(decode("p:a..p:b,name=arg0", "x = 5").attributes.count("kernspan.text"), 0u);
  EXPECT_EQ(decode("p:a..p:b,name=sql(arg0)", "").name, "<unreadable name>");
  EXPECT_EQ(decode("p:a..p:b,name=arg0", "", KS_STR_UNREADABLE).name, "<unreadable name>");
}

} // namespace
} // namespace kernspan
