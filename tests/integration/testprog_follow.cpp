// SPDX-License-Identifier: Apache-2.0
// Target for the following tests: processes and threads that
// appear after kernspan attached.
//
// Prints "ready", waits for SIGUSR1 (unless --no-wait), then:
//   --threads T  T new threads each do the spans (else the main thread does)
//   --children N forks N children; each blocks until this process has
//                exited (EOF on a pipe only the parent holds), then does the
//                spans; with --grandchild the first child first forks one
//                more process that does the same.
// "The spans" are --spans K times: a kernspan span "follow_span" around a
// call of follow_work(i) (a plain function, for --uprobe). Every process
// writes "spans <pid>" to stdout when it is done.
//   --exec-child PATH  forks one child that execs PATH --spans K (e.g. a
//                copy of this program: it waits for SIGUSR1 in turn), prints
//                "exec-child <pid>", does its own spans and waits for it.
#include "ready_signal.hpp"

#include <kernspan/kernspan.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

extern "C" __attribute__((noipa)) long follow_work(long i) {
  return i * 3;
}

namespace {

long g_spans = 10;

long do_spans() {
  long sum = 0;
  for (long i = 0; i < g_spans; i++) {
    kernspan::Span span("follow_span");
    sum += follow_work(i);
  }
  return sum;
}

void child_body(int rd) {
  char c;
  while (read(rd, &c, 1) > 0) {
  }
  do_spans();
  std::printf("spans %d\n", getpid());
  std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv) {
  long children = 0;
  long threads = 0;
  bool grandchild = false;
  bool wait = true;
  const char *exec_child = nullptr;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--spans") == 0 && i + 1 < argc) {
      g_spans = std::atol(argv[++i]);
    } else if (std::strcmp(argv[i], "--children") == 0 && i + 1 < argc) {
      children = std::atol(argv[++i]);
    } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atol(argv[++i]);
    } else if (std::strcmp(argv[i], "--grandchild") == 0) {
      grandchild = true;
    } else if (std::strcmp(argv[i], "--exec-child") == 0 && i + 1 < argc) {
      exec_child = argv[++i];
    } else if (std::strcmp(argv[i], "--no-wait") == 0) {
      wait = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--spans K] [--children N [--grandchild]] [--threads T] "
                   "[--no-wait]\n",
                   argv[0]);
      return 2;
    }
  }
  const sigset_t set = kernspan_examples::say_ready();
  if (wait) {
    kernspan_examples::wait_for_go(set);
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) { // an exec'd child must not hold it
    return 1;
  }
  for (long n = 0; n < children; n++) {
    const pid_t pid = fork();
    if (pid < 0) {
      return 1;
    }
    if (pid == 0) {
      close(pipefd[1]);
      if (n == 0 && grandchild && fork() == 0) {
        child_body(pipefd[0]);
        _exit(0);
      }
      child_body(pipefd[0]);
      _exit(0);
    }
  }
  close(pipefd[0]);
  pid_t execd = -1;
  if (exec_child != nullptr) {
    const std::string k = std::to_string(g_spans);
    execd = fork();
    if (execd == 0) {
      execl(exec_child, exec_child, "--spans", k.c_str(), static_cast<char *>(nullptr));
      _exit(127);
    }
    std::printf("exec-child %d\n", execd);
    std::fflush(stdout);
  }
  if (threads > 0) {
    std::vector<std::thread> ts;
    for (long t = 0; t < threads; t++) {
      ts.emplace_back(do_spans);
    }
    for (auto &t : ts) {
      t.join();
    }
  } else {
    do_spans();
  }
  std::printf("spans %d\n", getpid());
  std::fflush(stdout);
  if (execd > 0) {
    int st = 0;
    waitpid(execd, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  }
  return 0; // the children start their spans now
}
