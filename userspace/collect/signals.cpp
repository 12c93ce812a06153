// SPDX-License-Identifier: Apache-2.0
// SIGINT/SIGTERM ask the collector to stop (through its eventfd, so the
// handler is async-signal-safe); the old dispositions come back after.
#include "collect/collector.hpp"

#include <atomic>
#include <csignal>

namespace kernspan::collect {

namespace {
std::atomic<Collector *> g_stop_target{nullptr};
struct sigaction g_old_int {};
struct sigaction g_old_term {};
void on_signal(int) {
  if (auto *c = g_stop_target.load()) {
    c->request_stop();
  }
}
} // namespace

SignalStopper::SignalStopper(Collector &c) {
  g_stop_target = &c;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

SignalStopper::~SignalStopper() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_stop_target = nullptr;
}

} // namespace kernspan::collect
