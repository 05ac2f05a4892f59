// SPDX-License-Identifier: Apache-2.0
// dtor: user code that the runtime runs on the user's behalf, and that suspends. Coroutines
// return results whose destructors sleep, yield or wait for a contended weft::Mutex, and
// throw from detached coroutines into an unhandled-exception handler that suspends too;
// their tasks are joined, dropped unjoined (from coroutines and plain threads) or
// detached, at random. Checks: every result constructed is destroyed exactly once, every
// detached exception reaches the handler once, and nothing runs twice (the double-run
// tripwire of go()). On a runtime that destroyed payloads inside its own handoffs this
// corrupts the scheduler within a round.
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

std::atomic<std::uint64_t> g_made{0}, g_destroyed{0}, g_handled{0};
weft::Mutex g_contended;

struct Suspending {
  std::uint64_t how = 0;  // 0 sleep, 1 yield, 2 contended lock, 3 nothing
  bool live = false;
  explicit Suspending(std::uint64_t h) : how(h), live(true) { g_made.fetch_add(1); }
  Suspending(Suspending&& o) noexcept : how(o.how), live(std::exchange(o.live, false)) {}
  Suspending& operator=(Suspending&&) = delete;
  ~Suspending() {
    if (!live) return;
    switch (how) {
      case 0:
        weft::sleep_for(std::chrono::microseconds(3));
        break;
      case 1:
        weft::yield();
        break;
      case 2:
        g_contended.lock();
        weft::yield();
        g_contended.unlock();
        break;
      default:
        break;
    }
    g_destroyed.fetch_add(1);
  }
};

struct DetachedFailure : std::runtime_error {
  DetachedFailure() : std::runtime_error("weft-stress dtor: detached failure") {}
};

weft::UnhandledExceptionHandler g_previous = nullptr;

void suspending_handler(std::uint64_t id, std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const DetachedFailure&) {
    weft::yield();
    weft::sleep_for(std::chrono::microseconds(5));
    g_handled.fetch_add(1);
    return;
  } catch (...) {
  }
  g_previous(id, e);
}

}  // namespace

void run_dtor(Round& r) {
  Rng rng(r.seed);
  phase("dtor: results and handlers that suspend");
  g_made = 0;
  g_destroyed = 0;
  g_handled = 0;
  g_previous = weft::set_unhandled_exception_handler(&suspending_handler);
  std::atomic<std::uint64_t> thrown{0};
  const std::uint64_t nroots = rng.range(1, 8);
  const std::uint64_t each =
      std::max<std::uint64_t>(1, std::min<std::uint64_t>(r.ops / nroots, kMaxLive / nroots));
  std::vector<weft::Task<void>> roots;
  std::vector<weft::Task<Suspending>> for_threads;  // dropped by a plain thread below
  weft::Mutex for_threads_mu;
  for (std::uint64_t i = 0; i < nroots; ++i) {
    roots.push_back(go(r.sched, [&, seed = rng.next()] {
      Rng crng(seed);
      std::vector<weft::Task<Suspending>> pending;
      for (std::uint64_t k = 0; k < each; ++k) {
        const std::uint64_t how = crng.below(4);
        if (crng.chance(15)) {
          thrown.fetch_add(1);
          go([] { throw DetachedFailure(); }).detach();
          continue;
        }
        auto t = go([how] { return Suspending(how); });
        switch (crng.below(4)) {
          case 0:
            t.detach();  // destroyed on its own stack when it ends
            break;
          case 1: {
            Suspending s = t.join();  // moved out; both copies die on this stack
            (void)s;
            break;
          }
          case 2: {
            std::lock_guard lock(for_threads_mu);
            for_threads.push_back(std::move(t));
            break;
          }
          default:
            pending.push_back(std::move(t));  // dropped unjoined by this coroutine
            break;
        }
        if (crng.chance(10)) weft::yield();
        if (pending.size() > 16) pending.clear();
      }
    }));
  }
  // A plain thread drops handles too (the destructor then runs on that thread).
  std::thread dropper([&] {
    for (int turn = 0; turn < 4; ++turn) {
      std::vector<weft::Task<Suspending>> taken;
      {
        std::lock_guard lock(for_threads_mu);
        taken.swap(for_threads);
      }
      taken.clear();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  for (auto& t : roots) t.join();
  dropper.join();
  for_threads.clear();
  // Detached coroutines finish on their own: wait (bounded) for their destructors and
  // handlers to have run.
  const auto t0 = std::chrono::steady_clock::now();
  while (g_destroyed.load() != g_made.load() || g_handled.load() != thrown.load()) {
    STRESS_CHECK(std::chrono::steady_clock::now() - t0 < kWaitLimit,
                 "after %.0f s: %" PRIu64 " results made, %" PRIu64 " destroyed; %" PRIu64
                 " detached exceptions thrown, %" PRIu64 " handled",
                 since(t0), g_made.load(), g_destroyed.load(), thrown.load(), g_handled.load());
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  weft::set_unhandled_exception_handler(g_previous);
  add_ops(g_made.load() + thrown.load());
}

}  // namespace stress
