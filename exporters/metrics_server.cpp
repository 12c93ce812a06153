// SPDX-License-Identifier: Apache-2.0
#include "exporters/metrics_server.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sys/socket.h>
#include <thread>

#include <httplib.h>

namespace kernspan::exporters {

struct MetricsServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> done{false};
};

MetricsServer::MetricsServer(const ListenAddress &addr, const PrometheusSink &sink)
    : impl_(std::make_unique<Impl>()), host_(addr.host) {
  auto &srv = impl_->server;
  // Scrapes are rare and quick: two threads, not one per core.
  srv.new_task_queue = [] { return new httplib::ThreadPool(2); };
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // kernspan share a port in use; SO_REUSEADDR alone still allows a quick
  // restart over TIME_WAIT sockets.
  srv.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  srv.set_read_timeout(5, 0);
  srv.set_write_timeout(5, 0);
  srv.Get("/metrics", [&sink](const httplib::Request &req, httplib::Response &res) {
    const ExpositionFormat f = negotiate_format(req.get_header_value("Accept"));
    res.set_content(sink.render(f), content_type(f));
  });
  srv.Get("/", [](const httplib::Request &, httplib::Response &res) {
    res.set_content("kernspan: metrics at /metrics\n", "text/plain; charset=utf-8");
  });
  errno = 0;
  if (addr.port == 0) {
    port_ = srv.bind_to_any_port(addr.host);
  } else {
    port_ = srv.bind_to_port(addr.host, addr.port) ? addr.port : -1;
  }
  if (port_ <= 0) {
    const int err = errno;
    throw ListenError("cannot listen on " + addr.host + ":" + std::to_string(addr.port) + ": " +
                      (err != 0 ? std::strerror(err) : "unknown host or address not usable"));
  }
  impl_->thread = std::thread([this] {
    impl_->server.listen_after_bind();
    impl_->done = true;
  });
  // httplib's stop() is lost if it comes before the accept loop runs, and
  // the join in the destructor would then wait forever.
  while (!impl_->server.is_running() && !impl_->done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

MetricsServer::~MetricsServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
}

std::string MetricsServer::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_) + "/metrics";
}

} // namespace kernspan::exporters
