// SPDX-License-Identifier: Apache-2.0
// ThreadEchoServer: the baseline echo server, one std::thread per connection on blocking
// sockets.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <list>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <weft/net.hpp>

#include "server_common.hpp"

namespace weft_echo {

// ---------------------------------------------------------------------------------------
// The baseline: one std::thread per connection on blocking sockets, plus an accept thread.
class ThreadEchoServer {
 public:
  ThreadEchoServer(const std::string& host, std::uint16_t port)
      : listener_(weft::net::listen_tcp(host, port)) {
    port_ = weft::net::local_port(listener_.get());
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~ThreadEchoServer() { stop(); }
  ThreadEchoServer(const ThreadEchoServer&) = delete;
  ThreadEchoServer& operator=(const ThreadEchoServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::uint64_t accepted() const noexcept { return connections_.accepted(); }
  std::uint64_t errors() const noexcept { return connections_.errors(); }
  std::size_t live_connections() const { return connections_.live(); }

  void stop() {
    std::lock_guard<std::mutex> once(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    connections_.begin_stop();
    ::shutdown(listener_.get(), SHUT_RDWR);
    accept_thread_.join();
    connections_.hang_up_all_and_wait();
    for (Conn& c : threads_) c.thread.join();
    threads_.clear();
    listener_.reset();
  }

 private:
  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  // Joins the threads of connections that have ended (only the accept thread and stop(),
  // after the accept thread has ended, touch threads_).
  void reap() {
    for (auto it = threads_.begin(); it != threads_.end();) {
      if (it->done.load(std::memory_order_acquire)) {
        it->thread.join();
        it = threads_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void spawn_thread(int fd) {
    threads_.emplace_back();
    Conn& c = threads_.back();
    try {
      c.thread = std::thread([this, fd, &c] { serve(fd, c.done); });
    } catch (...) {
      threads_.pop_back();
      throw;
    }
  }

  void accept_loop() noexcept {
    std::uint64_t since_reap = 0;
    while (!connections_.stopping()) {
      pollfd p{listener_.get(), POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(kAcceptPoll.count()));
      if (rc == 0 || (rc < 0 && errno == EINTR)) {
        reap();
        continue;
      }
      if (connections_.stopping()) break;
      // Blocking descriptors for the baseline: no SOCK_NONBLOCK.
      const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) continue;
        connections_.error(std::strerror(err));
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        break;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (!connections_.admit(fd)) break;
      try {
        spawn_thread(fd);
      } catch (const std::exception& e) {
        connections_.error(e.what());
        connections_.finish(fd);
      }
      if (++since_reap == 256) {
        since_reap = 0;
        reap();
      }
    }
  }

  // Blocking send of all `n` bytes; false once the peer is gone (EPIPE, ECONNRESET).
  static bool send_all(int fd, const char* p, std::size_t n) noexcept {
    while (n > 0) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  void serve(int fd, std::atomic<bool>& done) noexcept {
    char buf[kEchoBuffer];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      // End-of-stream, ECONNRESET, or stop() hung up.
      if (n <= 0 || !send_all(fd, buf, static_cast<std::size_t>(n))) break;
    }
    connections_.finish(fd);
    done.store(true, std::memory_order_release);
  }

  Connections connections_{"weft-echo-threads"};  // outlives every connection thread
  weft::net::Socket listener_;
  std::uint16_t port_ = 0;
  std::thread accept_thread_;
  std::list<Conn> threads_;  // std::list: a Conn's address is captured by its thread
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace weft_echo
