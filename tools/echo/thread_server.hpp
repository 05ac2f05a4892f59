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
#include <unordered_set>
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
  std::uint64_t accepted() const noexcept { return accepted_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
  std::size_t live_connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
  }

  void stop() {
    std::lock_guard<std::mutex> once(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_.store(true, std::memory_order_relaxed);
    ::shutdown(listener_.get(), SHUT_RDWR);
    accept_thread_.join();
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (int fd : live_) ::shutdown(fd, SHUT_RDWR);
      detail::wait_drained(lock, drained_, live_, "weft-echo-threads");
    }
    for (Conn& c : conns_) c.thread.join();
    conns_.clear();
    listener_.reset();
  }

 private:
  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  // Joins the threads of connections that have ended (only the accept thread and stop(),
  // after the accept thread has ended, touch conns_).
  void reap() {
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (it->done.load(std::memory_order_acquire)) {
        it->thread.join();
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void spawn_thread(int fd) {
    conns_.emplace_back();
    Conn& c = conns_.back();
    try {
      c.thread = std::thread([this, fd, &c] { serve(fd, c.done); });
    } catch (...) {
      conns_.pop_back();
      throw;
    }
  }

  void accept_loop() noexcept {
    std::uint64_t since_reap = 0;
    while (!stopping_.load(std::memory_order_relaxed)) {
      pollfd p{listener_.get(), POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(kAcceptPoll.count()));
      if (rc == 0 || (rc < 0 && errno == EINTR)) {
        reap();
        continue;
      }
      if (stopping_.load(std::memory_order_relaxed)) break;
      // Blocking descriptors for the baseline: no SOCK_NONBLOCK.
      const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) continue;
        detail::log_error(errors_, "weft-echo-threads", std::strerror(err));
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        break;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_.load(std::memory_order_relaxed)) {
          ::close(fd);
          break;
        }
        live_.insert(fd);
      }
      accepted_.fetch_add(1, std::memory_order_relaxed);
      try {
        spawn_thread(fd);
      } catch (const std::exception& e) {
        detail::log_error(errors_, "weft-echo-threads", e.what());
        finish(fd);
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
    finish(fd);
    done.store(true, std::memory_order_release);
  }

  void finish(int fd) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(fd);
    ::close(fd);
    if (live_.empty()) drained_.notify_all();
  }

  weft::net::Socket listener_;
  std::uint16_t port_ = 0;
  std::thread accept_thread_;
  std::list<Conn> conns_;  // std::list: a Conn's address is captured by its thread
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> errors_{0};
  mutable std::mutex mu_;
  std::condition_variable drained_;
  std::unordered_set<int> live_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace weft_echo
