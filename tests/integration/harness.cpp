// SPDX-License-Identifier: Apache-2.0
#include "harness.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>

namespace kernspan::itest {

std::string temp_path(const std::string &stem) {
  static int n = 0;
  return "/tmp/kernspan-itest-" + std::to_string(getpid()) + "-" + std::to_string(n++) + "-" + stem;
}

Proc spawn(const std::vector<std::string> &argv) {
  Proc p;
  p.out_path = temp_path("stdout");
  p.err_path = temp_path("stderr");
  // Return only once the child has exec'd: a tracer started right after
  // must see the new program's maps, not the forked test binary's. The
  // close-on-exec pipe reads EOF at the exec (or a byte if it failed).
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) {
    return p;
  }
  p.pid = fork();
  if (p.pid == 0) {
    close(sync[0]);
    const int o = open(p.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(p.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char *> args;
    args.reserve(argv.size() + 1);
    for (const auto &a : argv) {
      args.push_back(const_cast<char *>(a.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    [[maybe_unused]] auto n = write(sync[1], "x", 1);
    _exit(127);
  }
  close(sync[1]);
  char c;
  while (read(sync[0], &c, 1) < 0 && errno == EINTR) {
  }
  close(sync[0]);
  return p;
}

int wait_exit(Proc &p, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int st = 0;
  while (true) {
    const pid_t r = waitpid(p.pid, &st, WNOHANG);
    if (r == p.pid) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(p.pid, SIGKILL);
      waitpid(p.pid, &st, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(st)) {
    return WEXITSTATUS(st);
  }
  return 128 + WTERMSIG(st);
}

std::string slurp(const std::string &path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool wait_for_text(const Proc &p, const std::string &path, const std::string &needle,
                   int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (slurp(path).find(needle) != std::string::npos) {
      return true;
    }
    if (kill(p.pid, 0) != 0) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::vector<nlohmann::json> read_jsonl(const std::string &path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty()) {
      out.push_back(nlohmann::json::parse(line));
    }
  }
  return out;
}

nlohmann::json read_json(const std::string &path) {
  const std::string text = slurp(path);
  return text.empty() ? nlohmann::json() : nlohmann::json::parse(text);
}

std::map<std::string, size_t> count_by_name(const std::vector<nlohmann::json> &spans) {
  std::map<std::string, size_t> m;
  for (const auto &s : spans) {
    m[s["name"].get<std::string>()]++;
  }
  return m;
}

Result run(const std::vector<std::string> &argv, int timeout_ms) {
  Proc p = spawn(argv);
  const int st = wait_exit(p, timeout_ms);
  return {st, slurp(p.out_path), slurp(p.err_path)};
}

ReadyRun trace_ready(const std::vector<std::string> &prog_argv,
                     const std::function<std::vector<std::string>(pid_t)> &ks_argv,
                     int ks_exit_ms) {
  ReadyRun r;
  r.prog = spawn(prog_argv);
  if (!wait_for_text(r.prog, r.prog.out_path, "ready", 10000)) {
    kill(r.prog.pid, SIGKILL);
    wait_exit(r.prog, 2000);
    ADD_FAILURE() << prog_argv.front() << " not ready: " << slurp(r.prog.err_path);
    return r;
  }
  std::vector<std::string> ks = {KERNSPAN_BIN};
  const std::vector<std::string> args = ks_argv(r.prog.pid);
  ks.insert(ks.end(), args.begin(), args.end());
  Proc k = spawn(ks);
  r.attached = wait_for_text(k, k.err_path, "attached", 20000);
  if (r.attached) {
    kill(r.prog.pid, SIGUSR1);
    r.prog_status = wait_exit(r.prog, 60000);
    r.ks_status = wait_exit(k, ks_exit_ms);
  } else {
    kill(r.prog.pid, SIGKILL);
    wait_exit(r.prog, 2000);
    r.ks_status = wait_exit(k, 5000);
  }
  r.ks_out = slurp(k.out_path);
  r.ks_err = slurp(k.err_path);
  return r;
}

ReadyRun trace_ready(const std::vector<std::string> &prog_argv,
                     const std::vector<std::string> &ks_args, int ks_exit_ms) {
  return trace_ready(
      prog_argv,
      [&](pid_t pid) {
        std::vector<std::string> ks = {"trace", "-p", std::to_string(pid)};
        ks.insert(ks.end(), ks_args.begin(), ks_args.end());
        return ks;
      },
      ks_exit_ms);
}

void ReadyProgTest::SetUp() {
  KS_REQUIRE_ROOT();
  prog_ = spawn(argv_);
  ASSERT_TRUE(wait_for_text(prog_, prog_.out_path, "ready", 10000)) << slurp(prog_.err_path);
}

void ReadyProgTest::TearDown() {
  if (prog_.pid > 0) {
    kill(prog_.pid, SIGKILL);
    wait_exit(prog_, 2000);
  }
}

} // namespace kernspan::itest
