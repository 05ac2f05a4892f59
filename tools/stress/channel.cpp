// SPDX-License-Identifier: Apache-2.0
// channel: producers and consumers (coroutines and plain threads) on one Channel of random
// capacity (0 = rendezvous), using send, try_send, send_for, recv, try_recv and recv_for
// with short timeouts that race hand-offs. The driver closes the channel once every
// producer is done; consumers drain it. Checks: each message id received exactly once,
// the sums, nothing left buffered, send after close returns false.
#include <memory>
#include <thread>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

void send_somehow(weft::Channel<std::uint64_t>& ch, std::uint64_t v, Rng& rng) {
  const auto t0 = std::chrono::steady_clock::now();
  switch (rng.below(4)) {
    case 0:
      STRESS_CHECK(ch.send(v), "send() on an open channel returned false");
      return;
    case 1:
      for (std::uint64_t turn = 0; !ch.try_send(v); ++turn) {
        STRESS_CHECK(!ch.closed(), "try_send(): channel closed while producers still run");
        STRESS_CHECK(std::chrono::steady_clock::now() - t0 < kWaitLimit,
                     "try_send() found no room for %lld s",
                     static_cast<long long>(kWaitLimit.count()));
        spin_pause(turn);
      }
      return;
    default:
      while (!ch.send_for(v, std::chrono::microseconds(rng.range(1, 400)))) {
        STRESS_CHECK(!ch.closed(), "send_for(): channel closed while producers still run");
        STRESS_CHECK(std::chrono::steady_clock::now() - t0 < kWaitLimit,
                     "send_for() kept timing out for %lld s (lost wake-up?)",
                     static_cast<long long>(kWaitLimit.count()));
      }
      return;
  }
}

}  // namespace

void run_channel(Round& r) {
  Rng rng(r.seed);
  static constexpr std::size_t kCaps[] = {0, 0, 1, 2, 7, 64};
  weft::Channel<std::uint64_t> ch(kCaps[rng.below(std::size(kCaps))]);
  const std::uint64_t nprod = rng.range(1, kTsan ? 24 : 64);
  const std::uint64_t ncons = rng.range(1, kTsan ? 24 : 64);
  const std::uint64_t each = std::max<std::uint64_t>(1, r.ops / nprod);
  const std::uint64_t total = nprod * each;
  const unsigned thread_prods = static_cast<unsigned>(rng.chance(40) ? rng.range(1, 2) : 0);
  const unsigned thread_cons = static_cast<unsigned>(rng.chance(40) ? rng.range(1, 2) : 0);
  std::unique_ptr<std::atomic<std::uint8_t>[]> seen(new std::atomic<std::uint8_t>[total]);
  for (std::uint64_t i = 0; i < total; ++i) seen[i].store(0, std::memory_order_relaxed);
  std::atomic<std::uint64_t> received{0}, sum{0};

  auto produce = [&ch, each](std::uint64_t p, std::uint64_t seed) {
    Rng prng(seed);
    for (std::uint64_t k = 0; k < each; ++k) send_somehow(ch, p * each + k, prng);
  };
  auto consume = [&](std::uint64_t seed) {
    Rng crng(seed);
    const auto take = [&](std::uint64_t v) {
      STRESS_CHECK(v < total, "received a value %" PRIu64 " nobody sent", v);
      const unsigned n = seen[v].fetch_add(1, std::memory_order_relaxed);
      STRESS_CHECK(n == 0, "message %" PRIu64 " received twice", v);
      received.fetch_add(1, std::memory_order_relaxed);
      sum.fetch_add(v, std::memory_order_relaxed);
    };
    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint64_t turn = 0;; ++turn) {
      std::optional<std::uint64_t> v;
      switch (crng.below(4)) {
        case 0:
          v = ch.recv();
          if (!v) return;
          break;
        case 1:
          v = ch.try_recv();
          if (!v) {
            if (ch.closed()) {
              v = ch.try_recv();  // a value may have arrived between the two calls
              if (!v) return;
              break;
            }
            spin_pause(turn);
          }
          break;
        default:
          v = ch.recv_for(std::chrono::microseconds(crng.range(1, 400)));
          if (!v && ch.closed()) {
            v = ch.try_recv();
            if (!v) return;
          }
          break;
      }
      if (v) {
        take(*v);
      } else {
        STRESS_CHECK(std::chrono::steady_clock::now() - t0 < 3 * kWaitLimit,
                     "a consumer ran for %lld s without the channel closing",
                     static_cast<long long>(3 * kWaitLimit.count()));
      }
    }
  };

  phase("channel: traffic");
  std::vector<weft::Task<void>> prods, cons;
  std::vector<std::thread> tprods, tcons;
  for (std::uint64_t p = 0; p < nprod; ++p) {
    if (p < thread_prods) {
      tprods.emplace_back(produce, p, rng.next());
    } else {
      prods.push_back(go(r.sched, [produce, p, seed = rng.next()] { produce(p, seed); }));
    }
  }
  for (std::uint64_t c = 0; c < ncons; ++c) {
    if (c < thread_cons) {
      tcons.emplace_back(consume, rng.next());
    } else {
      cons.push_back(go(r.sched, [consume, seed = rng.next()] { consume(seed); }));
    }
  }
  for (auto& t : tprods) t.join();
  for (auto& t : prods) t.join();
  phase("channel: close and drain");
  ch.close();
  STRESS_CHECK(!ch.send(1), "send() after close() returned true");
  for (auto& t : tcons) t.join();
  for (auto& t : cons) t.join();
  STRESS_CHECK(received.load() == total, "%" PRIu64 " messages received of %" PRIu64 " sent",
               received.load(), total);
  for (std::uint64_t i = 0; i < total; ++i) {
    STRESS_CHECK(seen[i].load() == 1, "message %" PRIu64 " received %u times", i,
                 static_cast<unsigned>(seen[i].load()));
  }
  STRESS_CHECK(sum.load() == total * (total - 1) / 2, "sum of messages %" PRIu64 " != %" PRIu64,
               sum.load(), total * (total - 1) / 2);
  STRESS_CHECK(ch.size() == 0 && !ch.try_recv(), "values left in a closed, drained channel");
  add_ops(total);
}

}  // namespace stress
