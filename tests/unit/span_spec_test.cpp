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

// A pair span record as pairs.bpf.c sends it, named `text`.
std::vector<char> pair_record(const std::string &text) {
  ks_pair_span_rec r{};
  r.span.hdr.kind = KS_REC_PAIR_SPAN;
  r.span.hdr.size = sizeof(r);
  r.span.hdr.tgid = 10;
  r.span.hdr.tid = 11;
  r.span.start_ns = 1000;
  r.span.end_ns = 3000;
  r.span.span_id = 1;
  r.span.trace_id_lo = 2;
  r.span.flags = KS_SPAN_COMM_OMITTED;
  std::memcpy(r.span.name, text.data(), std::min(text.size(), sizeof(r.span.name) - 1));
  r.pair_id = 0;
  std::vector<char> out(sizeof(r));
  std::memcpy(out.data(), &r, sizeof(r));
  return out;
}

core::Span decode(const std::string &spec, const std::string &text) {
  const std::vector<probe::SpanSpec> pairs{parse_span_spec(spec)};
  const auto rec = pair_record(text);
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
  EXPECT_EQ(s.attributes.count("kernspan.text_maybe_cut"), 0u);
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

TEST(PairNames, TextThatFilledTheKernelBufferIsMarked) {
  const std::string longq =
      "UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 1;";
  const auto s = decode("postgresql:query__start..postgresql:query__done,name=sql(arg0)", longq);
  EXPECT_EQ(std::get<std::string>(s.attributes.at("db.query.text")),
            longq.substr(0, KS_NAME_LEN - 1));
  EXPECT_EQ(std::get<bool>(s.attributes.at("kernspan.text_maybe_cut")), true);
  EXPECT_EQ(s.name, "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE a");
}

TEST(PairNames, AsIsAndUnreadable) {
  EXPECT_EQ(decode("p:a..p:b,name=arg0", "x = 5").name, "x = 5");
  EXPECT_EQ(decode("p:a..p:b,name=arg0", "x = 5").attributes.count("kernspan.text"), 0u);
  EXPECT_EQ(decode("p:a..p:b,name=sql(arg0)", "").name, "<unreadable name>");
}

} // namespace
} // namespace kernspan
