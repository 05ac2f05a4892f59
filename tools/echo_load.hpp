// SPDX-License-Identifier: Apache-2.0
// The echo servers and the echo load generator, written once for the tools (weft-echo,
// echo-threads, weft-echo-load), tests/net_test.cpp and bench/bench_echo.cpp.
//
//   WeftEchoServer    one weft coroutine per connection, weft::net non-blocking sockets
//   ThreadEchoServer  one std::thread per connection, blocking sockets (the baseline)
//   LoadClient        N connections as weft coroutines; each does rounds of "write a
//                     message, read it back, check every byte"; latency histogram
//
// The protocol is plain TCP echo: every byte received is sent back, in order.
// Header-only so that each user compiles it with its own flags (sanitizers included).
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>
#include <weft/net.hpp>
#include <weft/time.hpp>
#include <weft/weft.hpp>

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
  std::printf("%s: %s, stopping (%zu connections open)\n", tool,
              sig == SIGINT ? "SIGINT" : "SIGTERM", server.live_connections());
  std::fflush(stdout);
  server.stop();
  std::printf("%s: served %llu connections, %llu errors\n", tool,
              static_cast<unsigned long long>(server.accepted()),
              static_cast<unsigned long long>(server.errors()));
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
    std::fprintf(stderr, "%s: %zu connections still open %llds after hang-up; aborting\n", server,
                 live.size(), static_cast<long long>(kStopLimit.count()));
    std::abort();
  }
}

}  // namespace detail

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
      detail::wait_drained(lock, drained_, live_, "echo-threads");
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
        detail::log_error(errors_, "echo-threads", std::strerror(err));
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
        detail::log_error(errors_, "echo-threads", e.what());
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

// ---------------------------------------------------------------------------------------
// Round-trip latency histogram in nanoseconds: exact below 64 ns, then 32 buckets per
// power of two (about 3% resolution) up to 2^40 ns; fixed size, so merging is cheap and
// memory does not grow with the number of rounds.
class Histogram {
 public:
  void add(std::uint64_t ns) noexcept {
    ns = std::min<std::uint64_t>(ns, (std::uint64_t{1} << 40) - 1);
    ++counts_[index(ns)];
    ++total_;
    max_ = std::max(max_, ns);
  }
  void merge(const Histogram& o) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max_ns() const noexcept { return max_; }
  // The q-quantile (0 < q <= 1): the middle of the bucket holding it.
  double quantile_ns(double q) const noexcept {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.999999);
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return midpoint(i);
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr std::size_t kBuckets = 35 * 32;

  static std::size_t index(std::uint64_t v) noexcept {
    if (v < 64) return static_cast<std::size_t>(v);
    const int msb = 63 - __builtin_clzll(v);
    const int shift = msb - 5;  // keeps the top 6 bits: v >> shift is in [32, 64)
    return static_cast<std::size_t>(shift) * 32 + static_cast<std::size_t>(v >> shift);
  }
  static double midpoint(std::size_t i) noexcept {
    if (i < 64) return static_cast<double>(i);
    const std::size_t shift = i / 32 - 1;
    const std::uint64_t lo = static_cast<std::uint64_t>(i - shift * 32) << shift;
    return static_cast<double>(lo) + static_cast<double>((std::uint64_t{1} << shift) - 1) / 2;
  }

  std::array<std::uint32_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

struct LoadOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  int connections = 100;
  std::size_t size = 64;  // bytes per message
  // Bounds one connect or one round-trip, and the whole run() call (checked between
  // rounds, and each operation's timeout is cut to what is left of it).
  std::chrono::milliseconds op_timeout{10'000};
  std::chrono::milliseconds run_limit{120'000};
};

inline constexpr std::size_t kMaxMessage = std::size_t{1} << 20;

struct LoadResult {
  std::uint64_t round_trips = 0;
  std::uint64_t bytes = 0;  // message bytes sent and verified back (one direction)
  double seconds = 0;       // wall time of the round-trip phase
  Histogram latency;
  std::uint64_t mismatches = 0;  // connections whose echo differed from what they sent
  std::uint64_t failed = 0;      // connections that ended on an error or a short read
  std::string first_error;

  bool ok() const noexcept { return mismatches == 0 && failed == 0; }
  double round_trips_per_s() const noexcept {
    return seconds > 0 ? static_cast<double>(round_trips) / seconds : 0;
  }
  double mb_per_s() const noexcept {  // echoed payload, 10^6 bytes, one direction
    return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0;
  }
};

// N client connections driven as weft coroutines on `sched`. connect() opens them all
// (concurrently), run() makes each do `rounds` round-trips concurrently with the others.
class LoadClient {
 public:
  LoadClient(weft::Scheduler& sched, LoadOptions opts) : sched_(sched), opts_(std::move(opts)) {
    if (opts_.connections < 1) throw std::invalid_argument("LoadClient: connections must be >= 1");
    if (opts_.size < 1 || opts_.size > kMaxMessage)
      throw std::invalid_argument("LoadClient: size must be in [1, 1048576]");
  }

  // Opens every connection; throws std::runtime_error naming the first failure (and how
  // many failed) after closing those that did open.
  void connect() {
    socks_.clear();
    socks_.resize(static_cast<std::size_t>(opts_.connections));
    std::mutex err_mu;
    std::string first_error;
    std::uint64_t failed = 0;
    sched_.run([&] {
      std::vector<weft::Task<void>> tasks;
      tasks.reserve(socks_.size());
      for (std::size_t i = 0; i < socks_.size(); ++i) {
        tasks.push_back(weft::spawn([&, i] {
          try {
            socks_[i].reset(weft::net::connect_tcp(opts_.host, opts_.port, opts_.op_timeout));
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(err_mu);
            if (failed++ == 0) first_error = e.what();
          }
        }));
      }
      for (auto& t : tasks) t.join();
    });
    if (failed > 0) {
      socks_.clear();
      throw std::runtime_error(std::to_string(failed) + " of " + std::to_string(opts_.connections) +
                               " connections failed; first: " + first_error);
    }
  }

  // Every connection does `rounds` round-trips of opts.size bytes, all concurrently.
  // A connection stops at its first error or mismatch (its stream is then out of step).
  LoadResult run(int rounds) {
    LoadResult r;
    if (socks_.empty()) {
      r.failed = static_cast<std::uint64_t>(opts_.connections);
      r.first_error = "LoadClient::run: not connected";
      return r;
    }
    const std::size_t n = socks_.size();
    std::vector<PerConn> per(n);
    const std::uint64_t epoch = epoch_;
    epoch_ += static_cast<std::uint64_t>(rounds);
    const Clock::time_point limit = Clock::now() + opts_.run_limit;
    const Clock::time_point t0 = Clock::now();
    sched_.run([&] {
      std::vector<weft::Task<void>> tasks;
      tasks.reserve(n);
      for (std::size_t i = 0; i < n; ++i)
        tasks.push_back(weft::spawn([&, i] { drive(i, epoch, rounds, limit, per[i]); }));
      for (auto& t : tasks) t.join();
    });
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    for (std::size_t i = 0; i < n; ++i) {
      const PerConn& p = per[i];
      r.round_trips += p.rounds;
      r.latency.merge(p.latency);
      if (p.mismatch) ++r.mismatches;
      if (!p.error.empty()) {
        ++r.failed;
        if (r.first_error.empty())
          r.first_error = "connection " + std::to_string(i) + ": " + p.error;
      }
    }
    r.bytes = r.round_trips * opts_.size;
    // Out of step now: a later run() would read stale echoes.
    if (!r.ok()) socks_.clear();
    return r;
  }

  void close() { socks_.clear(); }
  std::size_t connections() const noexcept { return socks_.size(); }

 private:
  struct PerConn {
    Histogram latency;
    std::uint64_t rounds = 0;
    bool mismatch = false;
    std::string error;
  };

  // Messages up to this size are written, then read back, by one coroutine: they fit the
  // socket buffers. Larger ones are written by a second coroutine while this one reads,
  // or both ends would block on full buffers.
  static constexpr std::size_t kSequentialLimit = 32 * 1024;

  // The message of (connection, round): pseudo-random, so a misplaced, duplicated or
  // foreign chunk is caught by the byte comparison.
  static void fill(char* p, std::size_t len, std::uint64_t conn, std::uint64_t round) noexcept {
    std::uint64_t x = (conn << 32) ^ round ^ 0x9E3779B97F4A7C15ull;
    for (std::size_t off = 0; off < len; off += 8) {
      x += 0x9E3779B97F4A7C15ull;  // splitmix64
      std::uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      std::memcpy(p + off, &z, std::min<std::size_t>(8, len - off));
    }
  }

  void drive(std::size_t i, std::uint64_t epoch, int rounds, Clock::time_point limit,
             PerConn& out) noexcept {
    const int fd = socks_[i].get();
    const std::size_t size = opts_.size;
    try {
      std::unique_ptr<char[]> tx(new char[size]);
      std::unique_ptr<char[]> rx(new char[size]);
      for (int k = 0; k < rounds; ++k) {
        const Clock::time_point now = Clock::now();
        if (now >= limit) {
          out.error = "run time limit reached after " + std::to_string(k) + " rounds";
          return;
        }
        const std::chrono::nanoseconds timeout =
            std::min<std::chrono::nanoseconds>(opts_.op_timeout, limit - now);
        fill(tx.get(), size, i, epoch + static_cast<std::uint64_t>(k));
        const Clock::time_point t0 = Clock::now();
        std::size_t got = 0;
        if (size <= kSequentialLimit) {
          weft::net::write_all(fd, tx.get(), size, timeout);
          got = weft::net::read_exact(fd, rx.get(), size, timeout);
        } else {
          got = round_trip_split(fd, tx.get(), rx.get(), size, timeout);
        }
        const Clock::time_point t1 = Clock::now();
        if (got != size) {
          out.error = "server closed the connection after " + std::to_string(got) + " of " +
                      std::to_string(size) + " bytes in round " + std::to_string(k);
          return;
        }
        if (std::memcmp(tx.get(), rx.get(), size) != 0) {
          std::size_t off = 0;
          while (off < size && tx[off] == rx[off]) ++off;
          out.mismatch = true;
          out.error =
              "echo differs at byte " + std::to_string(off) + " of round " + std::to_string(k);
          return;
        }
        out.latency.add(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
        ++out.rounds;
      }
    } catch (const std::exception& e) {
      out.error = e.what();
    }
  }

  static std::size_t round_trip_split(int fd, const char* tx, char* rx, std::size_t size,
                                      std::chrono::nanoseconds timeout) {
    weft::Task<void> writer = weft::spawn([=] { weft::net::write_all(fd, tx, size, timeout); });
    std::size_t got = 0;
    try {
      got = weft::net::read_exact(fd, rx, size, timeout);
    } catch (...) {
      // The writer uses our buffer: wake it (its write fails) and wait for it before
      // the buffer goes away.
      ::shutdown(fd, SHUT_RDWR);
      try {
        writer.join();
      } catch (...) {
      }
      throw;
    }
    if (got != size) ::shutdown(fd, SHUT_RDWR);  // the writer may be stuck on a dead peer
    writer.join();                               // rethrows a write error
    return got;
  }

  weft::Scheduler& sched_;
  LoadOptions opts_;
  std::vector<weft::net::Socket> socks_;
  std::uint64_t epoch_ = 0;  // rounds so far, so every run() sends fresh messages
};

// connect() + run(rounds); connection failures are reported in the result.
inline LoadResult run_load(weft::Scheduler& sched, const LoadOptions& opts, int rounds) {
  LoadClient client(sched, opts);
  try {
    client.connect();
  } catch (const std::exception& e) {
    LoadResult r;
    r.failed = static_cast<std::uint64_t>(opts.connections);
    r.first_error = e.what();
    return r;
  }
  return client.run(rounds);
}

// ---------------------------------------------------------------------------------------
// Command-line parsing shared by the tools: "--flag value" or "--flag=value".
class Flags {
 public:
  Flags(const char* prog, const char* usage, int argc, char** argv)
      : prog_(prog), usage_(usage), argc_(argc), argv_(argv) {}

  // Calls on_flag(name, value) for each flag; -h/--help prints the usage and exits 0.
  template <class OnFlag>
  void parse(OnFlag on_flag) {
    for (int i = 1; i < argc_; ++i) {
      const std::string_view arg(argv_[i]);
      if (arg == "-h" || arg == "--help") {
        std::fputs(usage_, stdout);
        std::exit(0);
      }
      if (arg.substr(0, 2) != "--") fail("unexpected argument '" + std::string(arg) + "'");
      std::string_view name = arg;
      const char* value = nullptr;
      if (const auto eq = arg.find('='); eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        value = argv_[i] + eq + 1;
      } else {
        if (i + 1 >= argc_) fail(std::string(name) + " needs a value");
        value = argv_[++i];
      }
      if (!on_flag(name, value)) fail("unknown option '" + std::string(name) + "'");
    }
  }

  std::int64_t integer(std::string_view flag, const char* text, std::int64_t lo,
                       std::int64_t hi) const {
    std::int64_t v = 0;
    const std::string_view s(text);
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi)
      fail(std::string(flag) + " expects an integer in [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "], got '" + text + "'");
    return v;
  }

  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s\n%s", prog_, message.c_str(), usage_);
    std::exit(2);
  }

 private:
  const char* prog_;
  const char* usage_;
  int argc_;
  char** argv_;
};

}  // namespace weft_echo
