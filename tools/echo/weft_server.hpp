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
  std::uint64_t accepted() const noexcept { return connections_.accepted(); }
  std::uint64_t errors() const noexcept { return connections_.errors(); }
  std::size_t live_connections() const { return connections_.live(); }

  // Stops accepting, hangs up every open connection and waits until each connection's
  // coroutine has ended. Call from a plain thread; idempotent.
  void stop() {
    std::lock_guard<std::mutex> once(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    connections_.begin_stop();
    // Wakes the accept wait at once on Linux; the kAcceptPoll timeout bounds it otherwise.
    ::shutdown(listener_.get(), SHUT_RDWR);
    accept_task_.join();  // accept_loop catches everything, so this does not throw
    connections_.hang_up_all_and_wait();
    listener_.reset();
  }

 private:
  void accept_loop() noexcept {
    while (!connections_.stopping()) {
      int fd = -1;
      try {
        fd = weft::net::accept(listener_.get(), kAcceptPoll);
      } catch (const std::system_error& e) {
        if (weft::net::is_timeout(e)) continue;
        if (connections_.stopping()) break;
        connections_.error(e.what());
        const int err = e.code().value();
        if (e.code().category() == std::generic_category() &&
            (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)) {
          weft::sleep_for(std::chrono::milliseconds(10));  // out of resources: back off
          continue;
        }
        break;  // the listener itself is broken
      } catch (const std::exception& e) {
        connections_.error(e.what());
        break;
      }
      if (!connections_.admit(fd)) break;
      try {
        sched_.spawn([this, fd] { serve(fd); }).detach();
      } catch (const std::exception& e) {
        connections_.error(e.what());
        connections_.finish(fd);
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
      if (err != ECONNRESET && err != EPIPE && !connections_.stopping())
        connections_.error(e.what());
    } catch (const std::exception& e) {
      connections_.error(e.what());
    }
    connections_.finish(fd);
  }

  Connections connections_{"weft-echo"};  // outlives every connection coroutine
  weft::Scheduler& sched_;
  weft::net::Socket listener_;
  std::uint16_t port_ = 0;
  weft::Task<void> accept_task_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace weft_echo
