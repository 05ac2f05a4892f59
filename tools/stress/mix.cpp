// SPDX-License-Identifier: Apache-2.0
// mix: actors that each pick random operations from everything at once, on shared
// objects: a Mutex-guarded counter, a Channel drained by consumers, an Event gate set
// midway, a WaitGroup of detached helpers, child spawns and joins (some throwing), yields,
// yield_to, sleeps and a pipe round trip. Checks the totals of each at the end.
#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

struct World {
  weft::Mutex mu;
  std::uint64_t counter = 0;  // guarded by mu
  weft::Channel<std::uint64_t> ch{4};
  weft::Event gate;
  weft::WaitGroup helpers;
  std::atomic<std::uint64_t> increments{0}, sent{0}, sent_sum{0}, recvd{0}, recvd_sum{0};
  std::atomic<std::uint64_t> helper_runs{0}, helpers_spawned{0};
};

std::uint64_t actor(World& w, std::uint64_t seed, std::uint64_t steps) {
  Rng rng(seed);
  std::uint64_t value = 0;
  for (std::uint64_t i = 0; i < steps; ++i) {
    switch (rng.below(10)) {
      case 0: {
        std::lock_guard lock(w.mu);
        ++w.counter;
        if (rng.chance(10)) weft::yield();
        w.increments.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      case 1: {
        std::uint64_t v = rng.below(1000);
        STRESS_CHECK(w.ch.send_for(v, kWaitLimit), "mix: send_for timed out (consumers stuck?)");
        w.sent.fetch_add(1, std::memory_order_relaxed);
        w.sent_sum.fetch_add(v, std::memory_order_relaxed);
        break;
      }
      case 2: {
        const std::uint64_t x = rng.next() & 0xffff;
        value += go([x] { return x * 3; }).join() - 3 * x;
        break;
      }
      case 3: {
        const std::uint64_t x = rng.next() & 0xffff;
        try {
          go([x]() -> std::uint64_t { throw std::runtime_error(std::to_string(x)); }).join();
          fail("mix: join() of a throwing child returned");
        } catch (const std::runtime_error& e) {
          STRESS_CHECK(e.what() == std::to_string(x), "mix: exception what() '%s' != '%s'",
                       e.what(), std::to_string(x).c_str());
        }
        break;
      }
      case 4:
        w.helpers.add(1);
        w.helpers_spawned.fetch_add(1, std::memory_order_relaxed);
        go([&w] {
          w.helper_runs.fetch_add(1, std::memory_order_relaxed);
          w.helpers.done();
        }).detach();
        break;
      case 5:
        weft::yield();
        break;
      case 6:
        weft::sleep_for(std::chrono::microseconds(rng.below(300)));
        break;
      case 7:
        (void)w.gate.wait_for(std::chrono::microseconds(rng.below(300)));
        break;
      case 8: {
        weft::Task<std::uint64_t> t = go([] {
          weft::yield();
          return std::uint64_t{7};
        });
        weft::yield_to(t);
        value += t.join() - 7;
        break;
      }
      default: {
        int fds[2];
        STRESS_CHECK(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0, "mix: pipe2 failed");
        const std::uint64_t x = rng.next();
        weft::Task<void> wr = go([fd = fds[1], x] {
          STRESS_CHECK(weft::wait_writable(fd, std::chrono::nanoseconds(kWaitLimit)),
                       "mix: wait_writable timed out on an empty pipe");
          STRESS_CHECK(::write(fd, &x, 8) == 8, "mix: pipe write failed");
        });
        std::uint64_t y = 0;
        STRESS_CHECK(weft::wait_readable(fds[0], std::chrono::nanoseconds(kWaitLimit)),
                     "mix: wait_readable timed out (lost readiness?)");
        STRESS_CHECK(::read(fds[0], &y, 8) == 8 && y == x, "mix: pipe carried a wrong value");
        wr.join();
        ::close(fds[0]);
        ::close(fds[1]);
        break;
      }
    }
  }
  return value;
}

}  // namespace

void run_mix(Round& r) {
  Rng rng(r.seed);
  World w;
  const std::uint64_t nactors = rng.range(2, kTsan ? 64 : 256);
  const std::uint64_t steps = std::max<std::uint64_t>(1, r.ops / nactors);
  const std::uint64_t ncons = rng.range(1, 4);
  phase("mix: actors");
  std::vector<weft::Task<void>> consumers;
  for (std::uint64_t c = 0; c < ncons; ++c) {
    consumers.push_back(go(r.sched, [&w] {
      while (std::optional<std::uint64_t> v = w.ch.recv()) {
        w.recvd.fetch_add(1, std::memory_order_relaxed);
        w.recvd_sum.fetch_add(*v, std::memory_order_relaxed);
      }
    }));
  }
  std::vector<weft::Task<std::uint64_t>> actors;
  for (std::uint64_t a = 0; a < nactors; ++a) {
    actors.push_back(go(r.sched, [&w, steps, s = rng.next()] { return actor(w, s, steps); }));
    if (a == nactors / 2) w.gate.set();
  }
  std::uint64_t value = 0;
  for (auto& a : actors) value += a.join();
  w.ch.close();
  for (auto& c : consumers) c.join();
  STRESS_CHECK(w.helpers.wait_for(kWaitLimit), "mix: detached helpers unfinished after %lld s",
               static_cast<long long>(kWaitLimit.count()));
  STRESS_CHECK(value == 0, "mix: child results were off by %" PRIu64, value);
  STRESS_CHECK(w.counter == w.increments.load(), "mix: Mutex counter %" PRIu64 " != %" PRIu64,
               w.counter, w.increments.load());
  STRESS_CHECK(w.sent.load() == w.recvd.load() && w.sent_sum.load() == w.recvd_sum.load(),
               "mix: %" PRIu64 " sent, %" PRIu64 " received", w.sent.load(), w.recvd.load());
  STRESS_CHECK(w.helper_runs.load() == w.helpers_spawned.load(),
               "mix: %" PRIu64 " of %" PRIu64 " detached helpers ran", w.helper_runs.load(),
               w.helpers_spawned.load());
  add_ops(nactors * steps);
}

}  // namespace stress
