// SPDX-License-Identifier: Apache-2.0
// io_busy: fd waits while other workers run CPU-bound coroutines that never suspend. Reader
// coroutines wait on pipes (wait_readable) that writers, coroutines or plain threads, fill
// in small chunks with pauses. Up to workers - 1 readers each release a spinner (a busy
// loop, no suspension point, running until the group's pipes are drained) right before
// their first wait, through an Event: the spinner is then queued on the reader's own
// worker, which runs it as soon as the reader parks. So the worker a wait started from is
// stuck, at least one worker is idle (perhaps parked on its futex), and that idle worker
// must collect the readiness.
// Checks: every byte arrives, in order; every wait ends within kCollectLimit of the write
// that made the pipe readable (no wait is left to the spinners' end); the spinners end.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

using Clock = std::chrono::steady_clock;

// How late readiness may be collected while a worker is idle: generous (a loaded machine,
// sanitizers), yet far below the spinners' run, which lasts until the readers are done.
constexpr std::chrono::seconds kCollectLimit{kSanitized ? 5 : 2};

std::int64_t now_ns() {
  return Clock::now().time_since_epoch().count();
}

std::uint8_t byte_at(std::uint64_t seed, std::uint64_t i) {
  return static_cast<std::uint8_t>(mix(seed ^ (i * 0x9e3779b97f4a7c15ULL)));
}

struct PipeRun {
  int fds[2] = {-1, -1};
  weft::Event* gate = nullptr;  // releases this reader's spinner, if it has one
  // Waits without a timeout: a timed wait arms a timer, which wakes a parked worker (that
  // then takes the poller role) and so hides a wait that woke no collector. The spinner
  // watches this pipe instead and reports data left uncollected.
  bool untimed = false;
  std::uint64_t seed = 0;
  std::uint64_t bytes = 0;
  // Stamped just before each write: a reader that sees the data sees this stamp or a later
  // one (the write system call orders them).
  std::atomic<std::int64_t> written_ns{0};
};

void writer(PipeRun& p, std::uint64_t wseed, bool in_coroutine, bool late_start) {
  Rng wr(wseed);
  // After the reader has started waiting and its worker has taken up the spinner.
  if (late_start) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  std::uint8_t buf[512];
  for (std::uint64_t i = 0; i < p.bytes;) {
    const std::uint64_t n = std::min<std::uint64_t>(p.bytes - i, wr.range(1, sizeof buf));
    for (std::uint64_t k = 0; k < n; ++k) buf[k] = byte_at(p.seed, i + k);
    p.written_ns.store(now_ns(), std::memory_order_seq_cst);
    const ssize_t w = ::write(p.fds[1], buf, n);  // the pipe holds far more than one chunk
    STRESS_CHECK(w == static_cast<ssize_t>(n), "io_busy: write of %" PRIu64 " bytes: %zd (%s)", n,
                 w, w < 0 ? std::strerror(errno) : "short");
    i += n;
    // A pause, so the reader drains the pipe and waits again.
    const auto pause = std::chrono::microseconds(wr.range(0, 800));
    if (in_coroutine)
      weft::sleep_for(pause);
    else
      std::this_thread::sleep_for(pause);
  }
  ::close(p.fds[1]);
}

void reader(PipeRun& p) {
  std::uint8_t buf[4096];
  std::uint64_t i = 0;
  for (;;) {
    const ssize_t n = ::read(p.fds[0], buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      STRESS_CHECK(errno == EAGAIN, "io_busy reader: read: %s", std::strerror(errno));
      if (p.gate) p.gate->set();  // our spinner lands on this worker, which we now leave
      const std::int64_t start = now_ns();
      // Waits of kCollectLimit, so a pipe left readable is reported soon, not after the
      // whole kWaitLimit: on a timeout the pipe must still be empty, or its data must be
      // younger than the limit.
      bool ready = p.untimed && weft::wait_readable(p.fds[0]);
      while (!ready) {
        ready = weft::wait_readable(p.fds[0], kCollectLimit);
        // Data seen first, then the stamp: the stamp of the write that made it readable
        // (stored before that write) is then seen, or a later one.
        pollfd pf{p.fds[0], POLLIN, 0};
        const bool pending = ready || ::poll(&pf, 1, 0) == 1;
        const std::int64_t stamp = p.written_ns.load(std::memory_order_seq_cst);
        const std::int64_t now = now_ns();
        STRESS_CHECK(now - start < std::chrono::nanoseconds(kWaitLimit).count(),
                     "io_busy: wait_readable waited %lld s in all",
                     static_cast<long long>(kWaitLimit.count()));
        const std::int64_t since = now - std::max(start, stamp);
        STRESS_CHECK(!pending || since < std::chrono::nanoseconds(kCollectLimit).count(),
                     "io_busy: a readable pipe was collected %.3f s after the write, while a "
                     "worker was idle (limit %lld s)%s",
                     static_cast<double>(since) / 1e9,
                     static_cast<long long>(kCollectLimit.count()),
                     ready ? "" : "; not collected yet");
      }
      continue;
    }
    for (ssize_t k = 0; k < n; ++k, ++i) {
      STRESS_CHECK(i < p.bytes && buf[k] == byte_at(p.seed, i),
                   "io_busy: byte %" PRIu64 " of %" PRIu64 " wrong or extra", i, p.bytes);
    }
  }
  STRESS_CHECK(i == p.bytes, "io_busy: read %" PRIu64 " bytes of %" PRIu64 " before EOF", i,
               p.bytes);
  if (p.gate) p.gate->set();  // never waited: release the spinner anyway
}

// One group: readers, writers and gated spinners; returns the ops done (64 bytes each).
// An isolated group (one pipe, a plain-thread writer, a spinner) lets every worker park
// before the reader's first wait, so the idle workers sleep on their futexes, not in
// epoll_wait: a wait that wakes no collector is then never served.
std::uint64_t group(Round& r, Rng& rng) {
  const bool isolated = r.workers >= 2 && rng.chance(25);
  const unsigned npipes = isolated ? 1 : static_cast<unsigned>(rng.range(1, 4));
  std::vector<PipeRun> pipes(npipes);
  std::vector<weft::Event> gates(npipes);
  std::atomic<bool> done{false};
  std::vector<weft::Task<void>> spinners, tasks;
  for (unsigned i = 0; i < npipes; ++i) {
    if (spinners.size() + 1 >= r.workers || !(isolated || rng.chance(75))) continue;
    pipes[i].gate = &gates[i];
    pipes[i].untimed = isolated || rng.chance(30);
    spinners.push_back(go(r.sched, [&done, gate = &gates[i], &p = pipes[i]] {
      gate->wait();
      const auto start = Clock::now();
      std::uint64_t x = 1;
      for (std::uint64_t turn = 0; !done.load(std::memory_order_acquire); ++turn) {
        x = mix(x);  // CPU-bound, never suspends
        if (turn % 1024 != 0) continue;
        STRESS_CHECK(Clock::now() - start < 2 * kWaitLimit,
                     "io_busy: a spinner ran %lld s: the readers never finished",
                     static_cast<long long>(2 * kWaitLimit.count()));
        if (!p.untimed) continue;
        // Our reader's pipe (its read end stays open until the group ends) holding data
        // written longer than kCollectLimit ago: nobody collected the readiness. The data
        // is looked at first, then the stamp (stored before each write), as in reader().
        pollfd pf{p.fds[0], POLLIN, 0};
        if (::poll(&pf, 1, 0) != 1 || !(pf.revents & POLLIN)) continue;
        const std::int64_t stamp = p.written_ns.load(std::memory_order_seq_cst);
        const std::int64_t since = now_ns() - stamp;
        STRESS_CHECK(since < std::chrono::nanoseconds(kCollectLimit).count(),
                     "io_busy: a pipe has been readable for %.3f s while a worker was idle, "
                     "and nobody collected it",
                     static_cast<double>(since) / 1e9);
      }
      STRESS_CHECK(x != 0, "io_busy: mix() reached 0");
    }));
  }
  if (isolated) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // all park
  std::vector<std::thread> threads;
  std::uint64_t bytes = 0;
  for (auto& p : pipes) {
    STRESS_CHECK(::pipe2(p.fds, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2: %s", std::strerror(errno));
    p.seed = rng.next();
    p.bytes = rng.range(1, 64) * 64;
    bytes += p.bytes;
    tasks.push_back(go(r.sched, [&p] { reader(p); }));
    // Plain-thread writers leave idle workers parked on their futexes (no timers, no
    // wake-ups): the case where nobody collects I/O unless the wait itself wakes one.
    if (isolated || rng.chance(60)) {
      threads.emplace_back(writer, std::ref(p), rng.next(), false, isolated);
    } else {
      tasks.push_back(go(r.sched, [&p, s = rng.next()] { writer(p, s, true, false); }));
    }
  }
  for (auto& t : threads) t.join();
  for (auto& t : tasks) t.join();
  done.store(true, std::memory_order_release);
  for (auto& t : spinners) t.join();
  for (auto& p : pipes) ::close(p.fds[0]);
  return bytes / 64;
}

}  // namespace

void run_io_busy(Round& r) {
  Rng rng(r.seed);
  std::uint64_t ops = 0;
  while (ops < r.ops) {
    phase("io_busy: pipe waits beside never-suspending spinners");
    ops += group(r, rng);
  }
  add_ops(ops);
}

}  // namespace stress
