// SPDX-License-Identifier: Apache-2.0
// WeftEchoServer: the echo server as one weft coroutine per connection on weft::net
// non-blocking sockets.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <list>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_set>
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "server_common.hpp"

namespace weft_echo {

// ---------------------------------------------------------------------------------------
// The weft echo server: an accept coroutine plus one coroutine per connection, all on the
// given scheduler, which must outlive the server. Listening starts in the constructor (so
// port() is known at once).
class WeftEchoServer {
 public:
  WeftEchoServer(weft::Scheduler& sched, const std::string& host, std::uint16_t port)
      : sched_(sched), listener_(weft::net::listen_tcp(host, port)) {
    port_ = weft::net::local_port(listener_.get());
    accept_task_ = sched_.spawn([this] { accept_loop(); });
  }
  ~WeftEchoServer() { stop(); }
  WeftEchoServer(const WeftEchoServer&) = delete;
  WeftEchoServer& operator=(const WeftEchoServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::uint64_t accepted() const noexcept { return accepted_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
  std::size_t live_connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
  }

  // Stops accepting, hangs up every open connection and waits until each connection's
  // coroutine has ended. Call from a plain thread; idempotent.
  void stop() {
    std::lock_guard<std::mutex> once(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_.store(true, std::memory_order_relaxed);
    // Wakes the accept wait at once on Linux; the kAcceptPoll timeout bounds it otherwise.
    ::shutdown(listener_.get(), SHUT_RDWR);
    accept_task_.join();  // accept_loop catches everything, so this does not throw
    std::unique_lock<std::mutex> lock(mu_);
    // shutdown(), not close(): the coroutine still owns the descriptor (it may be inside a
    // wait on it), and the hang-up makes its read return 0 or its write fail.
    for (int fd : live_) ::shutdown(fd, SHUT_RDWR);
    detail::wait_drained(lock, drained_, live_, "weft-echo");
    lock.unlock();
    listener_.reset();
  }

 private:
  void accept_loop() noexcept {
    while (!stopping_.load(std::memory_order_relaxed)) {
      int fd = -1;
      try {
        fd = weft::net::accept(listener_.get(), kAcceptPoll);
      } catch (const std::system_error& e) {
        if (weft::net::is_timeout(e)) continue;
        if (stopping_.load(std::memory_order_relaxed)) break;
        detail::log_error(errors_, "weft-echo", e.what());
        const int err = e.code().value();
        if (e.code().category() == std::generic_category() &&
            (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)) {
          weft::sleep_for(std::chrono::milliseconds(10));  // out of resources: back off
          continue;
        }
        break;  // the listener itself is broken
      } catch (const std::exception& e) {
        detail::log_error(errors_, "weft-echo", e.what());
        break;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        // Registered under the same lock that stop() takes after setting stopping_: either
        // stop() sees this fd and hangs it up, or this sees stopping_ and drops it.
        if (stopping_.load(std::memory_order_relaxed)) {
          ::close(fd);
          break;
        }
        live_.insert(fd);
      }
      accepted_.fetch_add(1, std::memory_order_relaxed);
      try {
        sched_.spawn([this, fd] { serve(fd); }).detach();
      } catch (const std::exception& e) {
        detail::log_error(errors_, "weft-echo", e.what());
        finish(fd);
      }
    }
  }

  void serve(int fd) noexcept {
    try {
      std::unique_ptr<char[]> buf(new char[kEchoBuffer]);
      // Ends at end-of-stream, on an error, or when stop() hangs the connection up.
      for (;;) {
        const std::size_t n = weft::net::read_some(fd, buf.get(), kEchoBuffer);
        if (n == 0) break;
        weft::net::write_all(fd, buf.get(), n);
      }
    } catch (const std::system_error& e) {
      // A peer that resets or vanishes mid-write is routine for a server, not an error.
      const int err = e.code().value();
      if (err != ECONNRESET && err != EPIPE && !stopping_.load(std::memory_order_relaxed))
        detail::log_error(errors_, "weft-echo", e.what());
    } catch (const std::exception& e) {
      detail::log_error(errors_, "weft-echo", e.what());
    }
    finish(fd);
  }

  void finish(int fd) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(fd);
    ::close(fd);  // under the lock, so stop() never shuts down a reused descriptor number
    if (live_.empty()) drained_.notify_all();
  }

  weft::Scheduler& sched_;
  weft::net::Socket listener_;
  std::uint16_t port_ = 0;
  weft::Task<void> accept_task_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> errors_{0};
  mutable std::mutex mu_;  // guards live_ (never held across a suspension point)
  std::condition_variable drained_;
  std::unordered_set<int> live_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace weft_echo
