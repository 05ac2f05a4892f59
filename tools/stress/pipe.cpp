// SPDX-License-Identifier: Apache-2.0
// pipe: fd waits on non-blocking pipes (pipe2(O_NONBLOCK), buffer shrunk to one page so
// writers really wait). Byte streams: one writer, one reader, random chunk sizes, each
// byte checked in order. Shared pipes: several writers send 8-byte message ids (atomic
// writes, <= PIPE_BUF) and several readers share the read end (readiness wakes them all;
// each retries). Readers and writers are coroutines or plain threads (poll(2)).
// Checks: every byte in order; every message id read exactly once.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

std::uint8_t byte_at(std::uint64_t seed, std::uint64_t i) {
  return static_cast<std::uint8_t>(mix(seed + (i >> 3)) >> (8 * (i & 7)));
}

void wait_fd(int fd, bool readable, const char* who) {
  const bool ok = readable ? weft::wait_readable(fd, std::chrono::nanoseconds(kWaitLimit))
                           : weft::wait_writable(fd, std::chrono::nanoseconds(kWaitLimit));
  STRESS_CHECK(ok, "%s: wait_%s(fd %d) timed out after %lld s (lost readiness?)", who,
               readable ? "readable" : "writable", fd, static_cast<long long>(kWaitLimit.count()));
}

void open_pipe(int fds[2]) {
  STRESS_CHECK(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2: %s", std::strerror(errno));
  ::fcntl(fds[1], F_SETPIPE_SZ, 4096);  // best effort
}

// Writes all of buf[0, len) to a non-blocking fd, waiting for writability.
void write_all(int fd, const std::uint8_t* buf, std::size_t len, const char* who) {
  while (len > 0) {
    const ssize_t n = ::write(fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= static_cast<std::size_t>(n);
    } else {
      STRESS_CHECK(n < 0 && errno == EAGAIN, "%s: write: %s", who, std::strerror(errno));
      wait_fd(fd, false, who);
    }
  }
}

// One writer, one reader; returns the bytes moved.
std::uint64_t stream(weft::Scheduler& sched, Rng& rng, std::uint64_t bytes) {
  int fds[2];
  open_pipe(fds);
  const std::uint64_t seed = rng.next();
  auto writer = [fd = fds[1], seed, bytes](std::uint64_t wseed) {
    Rng wr(wseed);
    std::vector<std::uint8_t> buf;
    for (std::uint64_t i = 0; i < bytes;) {
      const std::uint64_t n = std::min<std::uint64_t>(bytes - i, wr.range(1, 9000));
      buf.resize(n);
      for (std::uint64_t k = 0; k < n; ++k) buf[k] = byte_at(seed, i + k);
      write_all(fd, buf.data(), n, "stream writer");
      i += n;
      if (wr.chance(10)) weft::yield();
    }
    ::close(fd);
  };
  auto reader = [fd = fds[0], seed, bytes](std::uint64_t rseed) {
    Rng rr(rseed);
    std::vector<std::uint8_t> buf(9000);
    std::uint64_t i = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), rr.range(1, buf.size()));
      if (n == 0) break;
      if (n < 0) {
        STRESS_CHECK(errno == EAGAIN, "stream reader: read: %s", std::strerror(errno));
        if (rr.chance(10)) (void)weft::wait_readable(fd, std::chrono::nanoseconds(0));  // a peek
        wait_fd(fd, true, "stream reader");
        continue;
      }
      for (ssize_t k = 0; k < n; ++k, ++i) {
        STRESS_CHECK(i < bytes && buf[static_cast<std::size_t>(k)] == byte_at(seed, i),
                     "stream: byte %" PRIu64 " of %" PRIu64 " wrong or extra", i, bytes);
      }
    }
    STRESS_CHECK(i == bytes, "stream: read %" PRIu64 " bytes of %" PRIu64 " before EOF", i, bytes);
    ::close(fd);
  };
  const bool thread_writer = rng.chance(15);
  const bool thread_reader = !thread_writer && rng.chance(15);
  std::thread t;
  weft::Task<void> w, rd;
  if (thread_writer) {
    t = std::thread(writer, rng.next());
  } else {
    w = go(sched, [writer, s = rng.next()] { writer(s); });
  }
  if (thread_reader) {
    t = std::thread(reader, rng.next());
  } else {
    rd = go(sched, [reader, s = rng.next()] { reader(s); });
  }
  if (w.valid()) w.join();
  if (rd.valid()) rd.join();
  if (t.joinable()) t.join();
  return bytes;
}

// Several writers and readers on one pipe; returns the messages moved.
std::uint64_t shared(weft::Scheduler& sched, Rng& rng, std::uint64_t msgs) {
  int fds[2];
  open_pipe(fds);
  const std::uint64_t nw = rng.range(1, 6), nr = rng.range(1, 6);
  const std::uint64_t each = std::max<std::uint64_t>(1, msgs / nw);
  const std::uint64_t total = nw * each;
  std::unique_ptr<std::atomic<std::uint8_t>[]> seen(new std::atomic<std::uint8_t>[total]);
  for (std::uint64_t i = 0; i < total; ++i) seen[i].store(0);
  std::atomic<std::uint64_t> got{0};
  std::atomic<std::uint64_t> writers_left{nw};
  std::vector<weft::Task<void>> tasks;
  for (std::uint64_t w = 0; w < nw; ++w) {
    tasks.push_back(go(sched, [&, w, s = rng.next()] {
      Rng wr(s);
      std::uint64_t batch[64];
      for (std::uint64_t i = 0; i < each;) {
        const std::uint64_t n = std::min<std::uint64_t>(each - i, wr.range(1, 64));
        for (std::uint64_t k = 0; k < n; ++k) batch[k] = w * each + i + k;
        // <= PIPE_BUF bytes: atomic, so readers always see whole messages.
        write_all(fds[1], reinterpret_cast<const std::uint8_t*>(batch), n * 8, "shared writer");
        i += n;
      }
      if (writers_left.fetch_sub(1) == 1) ::close(fds[1]);
    }));
  }
  for (std::uint64_t r = 0; r < nr; ++r) {
    tasks.push_back(go(sched, [&, s = rng.next()] {
      Rng rr(s);
      std::uint64_t buf[64];
      for (;;) {
        const ssize_t n = ::read(fds[0], buf, 8 * rr.range(1, 64));
        if (n == 0) return;
        if (n < 0) {
          STRESS_CHECK(errno == EAGAIN, "shared reader: read: %s", std::strerror(errno));
          wait_fd(fds[0], true, "shared reader");
          continue;
        }
        STRESS_CHECK(n % 8 == 0, "shared pipe: a read returned %zd bytes, not whole messages", n);
        for (ssize_t k = 0; k < n / 8; ++k) {
          const std::uint64_t id = buf[k];
          STRESS_CHECK(id < total, "shared pipe: message id %" PRIu64 " was never written", id);
          STRESS_CHECK(seen[id].fetch_add(1) == 0, "shared pipe: message %" PRIu64 " read twice",
                       id);
          got.fetch_add(1);
        }
      }
    }));
  }
  for (auto& t : tasks) t.join();
  ::close(fds[0]);
  STRESS_CHECK(got.load() == total, "shared pipe: %" PRIu64 " of %" PRIu64 " messages read",
               got.load(), total);
  return total;
}

}  // namespace

void run_pipe(Round& r) {
  Rng rng(r.seed);
  std::uint64_t ops = 0;
  while (ops < r.ops) {
    phase("pipe: streams and shared pipes");
    // Several pipes at once, each in its own coroutine group.
    const unsigned npipes = static_cast<unsigned>(rng.range(1, 6));
    std::vector<weft::Task<std::uint64_t>> groups;
    for (unsigned p = 0; p < npipes; ++p) {
      const bool is_stream = rng.chance(50);
      const std::uint64_t amount = rng.range(1, 200);
      groups.push_back(go(r.sched, [&r, is_stream, amount, s = rng.next()] {
        Rng prng(s);
        // A stream op is 64 bytes, a shared-pipe op one message.
        return is_stream ? stream(r.sched, prng, amount * 64) / 64 : shared(r.sched, prng, amount);
      }));
    }
    for (auto& g : groups) ops += g.join();
  }
  add_ops(ops);
}

}  // namespace stress
