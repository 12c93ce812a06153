// SPDX-License-Identifier: Apache-2.0
// SQL and generic text normalization: statements real programs send
// (pgbench's TPC-B script, psql's catalog queries) and hostile bytes.
#include "core/normalize.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <set>

namespace kernspan::core {
namespace {

TEST(NormalizeSql, PgbenchTpcbScript) {
  EXPECT_EQ(normalize_sql("BEGIN;"), "BEGIN;");
  EXPECT_EQ(normalize_sql("END;"), "END;");
  EXPECT_EQ(normalize_sql("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;"),
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1;");
  EXPECT_EQ(normalize_sql("UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = "
                          "12345;"),
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;");
  EXPECT_EQ(normalize_sql("UPDATE pgbench_tellers SET tbalance = tbalance + 77 WHERE tid = 3;"),
            "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;");
  EXPECT_EQ(normalize_sql("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, "
                          "1, 42, -4321, CURRENT_TIMESTAMP);"),
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
            "CURRENT_TIMESTAMP);");
}

TEST(NormalizeSql, ManyQueriesOneName) {
  std::set<std::string> names;
  std::mt19937 rng(7);
  for (int i = 0; i < 10000; i++) {
    names.insert(normalize_sql("SELECT abalance FROM pgbench_accounts WHERE aid = " +
                               std::to_string(rng() % 100000 + 1) + ";"));
  }
  EXPECT_EQ(names.size(), 1u);
}

TEST(NormalizeSql, PsqlCatalogQuery) {
  // What psql sends for \d foo.
  EXPECT_EQ(normalize_sql("SELECT c.oid,\n  n.nspname,\n  c.relname\nFROM pg_catalog.pg_class c\n"
                          "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
                          "WHERE c.relname OPERATOR(pg_catalog.~) '^(foo)$' COLLATE "
                          "pg_catalog.default\n  AND pg_catalog.pg_table_is_visible(c.oid)\n"
                          "ORDER BY 2, 3;"),
            "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN "
            "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname "
            "OPERATOR(pg_catalog.~) $1 COLLATE pg_catalog.default AND "
            "pg_catalog.pg_table_is_visible(c.oid) ORDER BY $2, $3;");
}

TEST(NormalizeSql, Strings) {
  EXPECT_EQ(normalize_sql("SELECT 'it''s', 'a'"), "SELECT $1, $2");
  EXPECT_EQ(normalize_sql(R"(SELECT E'a\'b\\', 'c')"), "SELECT $1, $2");
  EXPECT_EQ(normalize_sql(R"(SELECT e'x\'' || 'y')"), "SELECT $1 || $2");
  EXPECT_EQ(normalize_sql("SELECT B'0101', X'1F', N'n', U&'d\\0061t'"), "SELECT $1, $2, $3, $4");
  // A backslash ends nothing in a standard string.
  EXPECT_EQ(normalize_sql(R"(SELECT 'a\', b)"), "SELECT $1, b");
}

TEST(NormalizeSql, DollarQuoting) {
  EXPECT_EQ(normalize_sql("SELECT $$it's; -- not a comment$$, 1"), "SELECT $1, $2");
  EXPECT_EQ(normalize_sql("DO $body$ BEGIN RAISE NOTICE $$x$$; END $body$;"), "DO $1;");
  EXPECT_EQ(normalize_sql("SELECT $a$ $b$ $a$"), "SELECT $1");
  // '$' inside an identifier is part of it.
  EXPECT_EQ(normalize_sql("SELECT a$b$c FROM t"), "SELECT a$b$c FROM t");
}

TEST(NormalizeSql, ExistingParametersKeptNewOnesAfterThem) {
  EXPECT_EQ(normalize_sql("SELECT * FROM t WHERE a = $1 AND b = 5"),
            "SELECT * FROM t WHERE a = $1 AND b = $2");
  EXPECT_EQ(normalize_sql("SELECT 1, $3, 2"), "SELECT $4, $3, $5");
  // A $N inside a string is no parameter.
  EXPECT_EQ(normalize_sql("SELECT '$9', 1"), "SELECT $1, $2");
}

TEST(NormalizeSql, Comments) {
  EXPECT_EQ(normalize_sql("/* app=web */ SELECT 1 -- trailing\n;"), "SELECT $1 ;");
  EXPECT_EQ(normalize_sql("SELECT a/* x /* nested */ y */+b"), "SELECT a +b");
  EXPECT_EQ(normalize_sql("SELECT 1 -- no newline"), "SELECT $1");
  EXPECT_EQ(normalize_sql("SELECT '--', '/*'"), "SELECT $1, $2");
}

TEST(NormalizeSql, Whitespace) {
  EXPECT_EQ(normalize_sql("  \t\nSELECT\n\n   a ,\tb\r\nFROM t  \n"), "SELECT a , b FROM t");
  EXPECT_EQ(normalize_sql(""), "");
  EXPECT_EQ(normalize_sql(" \n\t "), "");
}

TEST(NormalizeSql, InListsCollapse) {
  EXPECT_EQ(normalize_sql("SELECT * FROM t WHERE id IN (1, 2, 3)"),
            "SELECT * FROM t WHERE id IN ($1 /*, ... */)");
  EXPECT_EQ(normalize_sql("SELECT * FROM t WHERE id IN (7)"),
            normalize_sql("SELECT * FROM t WHERE id IN (7, 8, 9, 10, 11)"));
  EXPECT_EQ(normalize_sql("SELECT 1 FROM t WHERE s in('a' , /*c*/ 'b', -4, 2.5, true) AND x = 1"),
            "SELECT $1 FROM t WHERE s in($2 /*, ... */) AND x = $3");
  // Not constants only: every constant on its own.
  EXPECT_EQ(normalize_sql("SELECT * FROM t WHERE id IN (1, a)"),
            "SELECT * FROM t WHERE id IN ($1, a)");
  EXPECT_EQ(normalize_sql("SELECT * FROM t WHERE id IN (SELECT 1)"),
            "SELECT * FROM t WHERE id IN (SELECT $1)");
  EXPECT_EQ(normalize_sql("SELECT * FROM t WHERE id IN ()"), "SELECT * FROM t WHERE id IN ()");
  EXPECT_EQ(normalize_sql("SELECT * FROM t WHERE id IN ('1'::int)"),
            "SELECT * FROM t WHERE id IN ($1::int)");
  EXPECT_EQ(normalize_sql("SELECT * FROM t WHERE id IN (1, 2"),
            "SELECT * FROM t WHERE id IN ($1, $2");
}

TEST(NormalizeSql, SignsAndBinaryMinus) {
  EXPECT_EQ(normalize_sql("SELECT -1"), "SELECT $1");
  EXPECT_EQ(normalize_sql("SELECT x-1, x - 1, x -1, (x)-1"), "SELECT x-$1, x - $2, x -$3, (x)-$4");
  EXPECT_EQ(normalize_sql("SELECT f(-1, -.5), a[-2], 3*-4"), "SELECT f($1, $2), a[$3], $4*$5");
  EXPECT_EQ(normalize_sql("SELECT 1 WHERE a = -1 AND -2 < b"), "SELECT $1 WHERE a = $2 AND $3 < b");
  EXPECT_EQ(normalize_sql("SELECT CASE WHEN x THEN -1 ELSE -2 END"),
            "SELECT CASE WHEN x THEN $1 ELSE $2 END");
  EXPECT_EQ(normalize_sql("-5"), "$1");
}

TEST(NormalizeSql, Numbers) {
  EXPECT_EQ(normalize_sql("SELECT 1.5, .5, 1., 1e10, 2.5E-3, 0x1F, 0o17, 0b101, 1_000_000"),
            "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9");
  EXPECT_EQ(normalize_sql("SELECT t1.c2 FROM t1"), "SELECT t1.c2 FROM t1");
  EXPECT_EQ(normalize_sql("SELECT arr[1:2]"), "SELECT arr[$1:$2]");
}

TEST(NormalizeSql, CastsBooleansNull) {
  EXPECT_EQ(normalize_sql("SELECT '1'::int, 2::bigint, CAST('x' AS text), int '3'"),
            "SELECT $1::int, $2::bigint, CAST($3 AS text), int $4");
  EXPECT_EQ(normalize_sql("UPDATE t SET on = TRUE, off = false, z = NULL WHERE n IS NULL"),
            "UPDATE t SET on = $1, off = $2, z = NULL WHERE n IS NULL");
  // Words that merely start like the constants stay words.
  EXPECT_EQ(normalize_sql("SELECT truex, falsey, ein, bee FROM t"),
            "SELECT truex, falsey, ein, bee FROM t");
}

TEST(NormalizeSql, IdentifiersUntouched) {
  EXPECT_EQ(normalize_sql(R"(SELECT "Foo", "a""1", "x y" FROM "Tab1" WHERE "n"=1)"),
            R"(SELECT "Foo", "a""1", "x y" FROM "Tab1" WHERE "n"=$1)");
  EXPECT_EQ(normalize_sql("select Col_1 FROM Schema2.Tbl"), "select Col_1 FROM Schema2.Tbl");
  EXPECT_EQ(normalize_sql("SELECT café FROM naïve"), "SELECT café FROM naïve");
}

TEST(NormalizeSql, UnterminatedAndGarbage) {
  EXPECT_EQ(normalize_sql("SELECT 'unterminated"), "SELECT $1");
  EXPECT_EQ(normalize_sql("SELECT \"unterminated"), "SELECT \"unterminated");
  EXPECT_EQ(normalize_sql("SELECT 1 /* unterminated"), "SELECT $1");
  EXPECT_EQ(normalize_sql("SELECT $tag$ unterminated"), "SELECT $1");
  EXPECT_EQ(normalize_sql("SELECT E'\\"), "SELECT $1");
  EXPECT_EQ(normalize_sql("SELECT $"), "SELECT $");
  EXPECT_EQ(normalize_sql(std::string_view("a\0b\x01\x7f"
                                           "c",
                                           6)),
            "a b c");
  // Every byte value, and random bytes: no crash, bounded output.
  std::string all;
  for (int c = 0; c < 256; c++) {
    all.push_back(static_cast<char>(c));
  }
  EXPECT_LE(normalize_sql(all).size(), kMaxNormalizedBytes);
  std::mt19937 rng(1);
  for (int n = 0; n < 2000; n++) {
    std::string junk(rng() % 300, '\0');
    for (char &c : junk) {
      // Mostly the bytes that mean something to the lexer.
      static constexpr std::string_view kHot = "'\"$-/*\\(),.0123456789eExX IN\n";
      c = rng() % 2 == 0 ? kHot[rng() % kHot.size()] : static_cast<char>(rng());
    }
    const auto out = normalize_sql(junk, 64);
    EXPECT_LE(out.size(), 64u);
  }
}

TEST(NormalizeSql, BoundedOutput) {
  std::string big = "SELECT ";
  for (int i = 0; i < 5000; i++) {
    big += "1, ";
  }
  const auto out = normalize_sql(big);
  EXPECT_EQ(out.size(), kMaxNormalizedBytes);
  EXPECT_EQ(out.substr(out.size() - 3), "...");
  EXPECT_EQ(normalize_sql("SELECT a FROM b", 8), "SELEC...");
  EXPECT_EQ(normalize_sql("SELECT a FROM b", 15), "SELECT a FROM b");
  // A cut never splits a UTF-8 character.
  EXPECT_EQ(normalize_sql("ab \xC3\xA9\xC3\xA9\xC3\xA9", 8), "ab \xC3\xA9...");
}

TEST(NormalizeSql, LinearOnHostileInput) {
  // Quadratic scanning would take seconds here.
  const std::string opens(1 << 20, '$');
  const std::string ins = [] {
    std::string s;
    for (int i = 0; i < 100000; i++) {
      s += "IN (1, ";
    }
    return s;
  }();
  std::string tags;
  for (int i = 0; i < 20000; i++) {
    tags += "$abcdefghijklmnopqrstuvwxyz$ ";
  }
  const auto t0 = std::chrono::steady_clock::now();
  (void)normalize_sql(opens);
  (void)normalize_sql(ins);
  (void)normalize_sql(tags);
  (void)normalize_sql(std::string(1 << 20, '-') + "1");
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 2000.0);
}

TEST(NormalizeSql, FastEnoughPerRecord) {
  // Names arrive up to 63 bytes long at tens of thousands per second.
  const std::string q = "SELECT abalance FROM pgbench_accounts WHERE aid = 1234567;";
  constexpr int kN = 200000;
  size_t sink = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; i++) {
    sink += normalize_sql(q).size();
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / kN;
  std::printf("normalize_sql: %.0f ns per pgbench SELECT\n", ns);
  EXPECT_GT(sink, 0u);
  EXPECT_LT(ns, 50000.0); // loose: shared machines, sanitizer builds
}

TEST(NormalizeText, NumbersAndHex) {
  EXPECT_EQ(normalize_text("GET /users/12345/orders/67"), "GET /users/?/orders/?");
  EXPECT_EQ(normalize_text("key:0x7ffd1234abcd"), "key:?");
  EXPECT_EQ(normalize_text("job 550e8400-e29b-41d4-a716-446655440000 done"), "job ? done");
  EXPECT_EQ(normalize_text("blob/3f786850e387550fdab836ed7e6dc881de23001b"), "blob/?");
  EXPECT_EQ(normalize_text("user42 v1.2.3"), "user? v?.?.?");
  // Words of hex letters only, or short ones, are words.
  EXPECT_EQ(normalize_text("deadbeef cafe babe0"), "deadbeef cafe babe?");
  EXPECT_EQ(normalize_text("  a\t\tb \n c  "), "a b c");
  EXPECT_EQ(normalize_text(""), "");
}

TEST(NormalizeText, GarbageAndBounds) {
  std::mt19937 rng(3);
  for (int n = 0; n < 2000; n++) {
    std::string junk(rng() % 300, '\0');
    for (char &c : junk) {
      c = static_cast<char>(rng());
    }
    EXPECT_LE(normalize_text(junk, 32).size(), 32u);
  }
  EXPECT_EQ(normalize_text(std::string(5000, 'a')).size(), kMaxNormalizedBytes);
  std::set<std::string> names;
  for (int i = 0; i < 1000; i++) {
    names.insert(
        normalize_text("/api/item/" + std::to_string(i * 7919) + "?page=" + std::to_string(i)));
  }
  EXPECT_EQ(names, (std::set<std::string>{"/api/item/??page=?"}));
}

} // namespace
} // namespace kernspan::core
