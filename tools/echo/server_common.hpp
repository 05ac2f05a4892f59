// SPDX-License-Identifier: Apache-2.0
// What the echo tools and servers share: stop signals, the descriptor limit, and the
// servers' constants, error and drain helpers and connection registry (Connections). The
// protocol is plain TCP echo: every byte received is sent back, in order. These headers
// are header-only so that each user (tools, tests/net_test.cpp, bench/bench_echo.cpp)
// compiles them with its own flags, sanitizers included.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_set>

#include "../plural.hpp"

namespace weft_echo {

using Clock = std::chrono::steady_clock;

// Blocks SIGINT and SIGTERM in the calling thread. Call it before any other thread starts:
// every thread (worker or connection thread) inherits the mask, so the signals are taken
// only by serve_until_signal()'s sigwait() and no handler ever runs on a coroutine stack.
inline sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Waits for one of `signals`, then stops `server` and prints what it served, as `tool`.
template <class Server>
int serve_until_signal(const char* tool, const sigset_t& signals, Server& server) {
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  std::printf("%s: %s, stopping (%s open)\n", tool, sig == SIGINT ? "SIGINT" : "SIGTERM",
              weft_tools::plural(server.live_connections(), "connection").c_str());
  std::fflush(stdout);
  server.stop();
  std::printf("%s: served %s, %s\n", tool,
              weft_tools::plural(server.accepted(), "connection").c_str(),
              weft_tools::plural(server.errors(), "error").c_str());
  return 0;
}

// Raises the soft RLIMIT_NOFILE to the hard limit (the default soft limit of 1024 is too
// low for a thousand connections, which take two descriptors each in one process).
// Returns the soft limit now in force.
inline std::uint64_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return static_cast<std::uint64_t>(rl.rlim_cur);
}

// Bytes per read of the echo loops: enough to move a large message in a few calls.
inline constexpr std::size_t kEchoBuffer = 16 * 1024;

// How often the accept loops look at their stop flag when nothing wakes them sooner.
inline constexpr std::chrono::milliseconds kAcceptPoll{100};

// A bound on how long stop() waits for connections to end after hanging them up; past it
// something is stuck (a lost wake-up): abort loudly rather than hang or free live state.
inline constexpr std::chrono::seconds kStopLimit{30};

namespace detail {

// Prints the first few errors of a server (a flood would only hide the first one).
inline void log_error(std::atomic<std::uint64_t>& count, const char* server, const char* what) {
  const std::uint64_t n = count.fetch_add(1, std::memory_order_relaxed);
  if (n < 5) std::fprintf(stderr, "%s: %s\n", server, what);
  if (n == 5) std::fprintf(stderr, "%s: further errors not shown\n", server);
}

// Waits (bounded by kStopLimit) until `live` is empty; the caller holds `lock` on `mu`.
inline void wait_drained(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         const std::unordered_set<int>& live, const char* server) {
  if (!cv.wait_for(lock, kStopLimit, [&] { return live.empty(); })) {
    std::fprintf(stderr, "%s: %s still open %llds after hang-up; aborting\n", server,
                 weft_tools::plural(live.size(), "connection").c_str(),
                 static_cast<long long>(kStopLimit.count()));
    std::abort();
  }
}

}  // namespace detail

// What both echo servers keep about their connections: the open descriptors, the stop
// flag, and the accepted and error counts. The mutex is never held across a suspension
// point (weft coroutines take it only in admit() and finish()).
class Connections {
 public:
  explicit Connections(const char* server) : server_(server) {}

  bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
  std::uint64_t accepted() const noexcept { return accepted_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
  std::size_t live() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
  }
  void error(const char* what) noexcept { detail::log_error(errors_, server_, what); }

  // Registers an accepted descriptor and counts it; once stopping, closes it and returns
  // false instead. Under the same lock that hang_up_all_and_wait() takes after
  // begin_stop(): either that sees this descriptor and hangs it up, or this sees the flag.
  bool admit(int fd) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping()) {
        ::close(fd);
        return false;
      }
      live_.insert(fd);
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  // The connection has ended: closes its descriptor, under the lock, so that
  // hang_up_all_and_wait() never shuts down a reused descriptor number.
  void finish(int fd) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    live_.erase(fd);
    ::close(fd);
    if (live_.empty()) drained_.notify_all();
  }

  void begin_stop() noexcept { stopping_.store(true, std::memory_order_relaxed); }
  // Hangs up every open connection and waits (bounded by kStopLimit) until each has
  // called finish(). shutdown(), not close(): the connection still owns its descriptor
  // (it may be inside a wait on it), and the hang-up makes its read return 0 or its
  // write fail.
  void hang_up_all_and_wait() {
    std::unique_lock<std::mutex> lock(mu_);
    for (int fd : live_) ::shutdown(fd, SHUT_RDWR);
    detail::wait_drained(lock, drained_, live_, server_);
  }

 private:
  const char* const server_;  // the name errors are printed with
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> errors_{0};
  mutable std::mutex mu_;  // guards live_
  std::condition_variable drained_;
  std::unordered_set<int> live_;
};

}  // namespace weft_echo
