// SPDX-License-Identifier: Apache-2.0
// LoadClient: the echo load generator, N connections as weft coroutines; each does rounds
// of "write a message, read it back, check every byte", timing each round trip.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "histogram.hpp"
#include "server_common.hpp"

namespace weft_echo {

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

}  // namespace weft_echo
