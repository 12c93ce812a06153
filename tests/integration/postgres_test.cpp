// SPDX-License-Identifier: Apache-2.0
// Real PostgreSQL 15 under pgbench, its own query__start/query__done USDT
// probes traced with name=sql(arg0): every query text is different, the
// span names are few (the statement with its constants replaced) and each
// span keeps its literal text in db.query.text.
#include "harness.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sys/stat.h>

namespace kernspan::itest {
namespace {

using nlohmann::json;

constexpr const char *kPgBin = "/usr/lib/postgresql/15/bin"; // package postgresql-15
constexpr int kTransactions = 2000;                          // per client
constexpr int kClients = 2;

// A throw-away cluster in a temp dir, owned by the postgres user, on a unix
// socket in that dir and no TCP; stopped and removed at the end.
class PgCluster {
public:
  PgCluster() {
    char tmpl[] = "/tmp/ks-pg-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      return;
    }
    dir_ = tmpl;
    if (!as_postgres({"/usr/bin/chown", "postgres:postgres", dir_}, false)) {
      return;
    }
    ok_ =
        as_postgres({std::string(kPgBin) + "/initdb", "-D", data(), "-A", "trust", "-U", "postgres",
                     "--no-sync"}) &&
        as_postgres({std::string(kPgBin) + "/pg_ctl", "-D", data(), "-l", dir_ + "/log", "-w", "-t",
                     "60", "-o", "-c listen_addresses='' -k " + dir_ + " -c fsync=off", "start"});
    if (ok_) {
      const std::string pidfile = slurp(data() + "/postmaster.pid");
      postmaster_ = std::atoi(pidfile.c_str());
      ok_ = postmaster_ > 0;
    }
  }
  ~PgCluster() {
    if (!dir_.empty()) {
      (void)as_postgres(
          {std::string(kPgBin) + "/pg_ctl", "-D", data(), "-m", "immediate", "-w", "stop"});
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  PgCluster(const PgCluster &) = delete;
  PgCluster &operator=(const PgCluster &) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] pid_t postmaster() const { return postmaster_; }
  [[nodiscard]] std::string data() const { return dir_ + "/data"; }
  [[nodiscard]] const std::string &error() const { return error_; }

  // pgbench against the cluster's socket, as the postgres user.
  bool pgbench(const std::vector<std::string> &args) {
    std::vector<std::string> argv = {std::string(kPgBin) + "/pgbench", "-h", dir_, "-U",
                                     "postgres"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.emplace_back("postgres");
    return as_postgres(argv);
  }

private:
  bool as_postgres(const std::vector<std::string> &argv, bool runuser = true) {
    std::vector<std::string> full;
    if (runuser) {
      full = {"/usr/sbin/runuser", "-u", "postgres", "--"};
    }
    full.insert(full.end(), argv.begin(), argv.end());
    const Result r = run(full, 120000);
    if (r.status != 0) {
      error_ += argv.front() + " failed (" + std::to_string(r.status) + "): " + r.err + r.out +
                slurp(dir_ + "/log") + "\n";
    }
    return r.status == 0;
  }

  std::string dir_;
  std::string error_;
  pid_t postmaster_ = -1;
  bool ok_ = false;
};

TEST(Postgres, PgbenchQueriesGetFewNormalizedNamesAndKeepTheirText) {
  KS_REQUIRE_ROOT();
  struct stat st {};
  if (stat((std::string(kPgBin) + "/initdb").c_str(), &st) != 0) {
    GTEST_SKIP() << kPgBin << " missing: apt-get install postgresql-15 postgresql-client-15";
  }
  PgCluster pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  ASSERT_TRUE(pg.pgbench({"-i", "-q", "-s", "1"})) << pg.error();

  const std::string out = temp_path("pg.jsonl");
  Proc ks = spawn({KERNSPAN_BIN, "trace", "-p", std::to_string(pg.postmaster()),
                   "--follow-children", "--span",
                   "postgresql:query__start..postgresql:query__done,name=sql(arg0)", "-o", out});
  ASSERT_TRUE(wait_for_text(ks, ks.err_path, "attached", 30000)) << slurp(ks.err_path);
  // -S: SELECT abalance FROM pgbench_accounts WHERE aid = <random>; -n: no
  // vacuum first; the default simple protocol sends the literal texts.
  const bool bench_ok =
      pg.pgbench({"-n", "-S", "-c", std::to_string(kClients), "-t", std::to_string(kTransactions)});
  kill(ks.pid, SIGINT);
  const int ks_status = wait_exit(ks, 20000);
  ASSERT_TRUE(bench_ok) << pg.error();
  ASSERT_EQ(ks_status, 0) << slurp(ks.err_path);

  const auto spans = read_jsonl(out);
  const auto counts = count_by_name(spans);
  const std::string select = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";
  ASSERT_EQ(counts.count(select), 1u) << json(counts).dump();
  // Every query of the run, exactly, under one name.
  EXPECT_EQ(counts.at(select), static_cast<size_t>(kClients) * kTransactions);
  // pgbench's few set-up statements besides: the names stay few.
  EXPECT_LE(counts.size(), 10u) << json(counts).dump();

  std::set<std::string> texts;
  for (const auto &s : spans) {
    if (s["name"] != select) {
      continue;
    }
    const auto &a = s["attributes"];
    ASSERT_TRUE(a.contains("db.query.text")) << s.dump();
    const std::string text = a["db.query.text"];
    const std::string prefix = "SELECT abalance FROM pgbench_accounts WHERE aid = ";
    ASSERT_EQ(text.rfind(prefix, 0), 0u) << text;
    const std::string aid = text.substr(prefix.size(), text.size() - prefix.size() - 1);
    EXPECT_EQ(text.back(), ';') << text;
    EXPECT_FALSE(aid.empty());
    EXPECT_EQ(aid.find_first_not_of("0123456789"), std::string::npos) << text;
    EXPECT_GE(std::stoi(aid), 1) << text;
    EXPECT_LE(std::stoi(aid), 100000) << text;
    EXPECT_EQ(a["db.system"], "postgresql");
    EXPECT_FALSE(a.contains("kernspan.text_maybe_cut")) << s.dump();
    texts.insert(text);
  }
  // The literal texts really differ (random aids): many texts, one name.
  EXPECT_GT(texts.size(), static_cast<size_t>(kClients) * kTransactions / 2);
  // The summary has a row per name, not per text.
  const std::string summary = slurp(ks.out_path);
  EXPECT_NE(summary.find(select), std::string::npos) << summary;
  EXPECT_EQ(summary.find("overflow:"), std::string::npos) << summary;
}

} // namespace
} // namespace kernspan::itest
