// SPDX-License-Identifier: Apache-2.0
// Which coroutine a worker runs next: queueing a ready coroutine, the fairness turns of
// every scheduling decision, the injection queue and stealing.
#include <cstdio>
#include <cstdlib>

#include "check_run.hpp"
#include "claim.hpp"
#include "core.hpp"
#include "worker.hpp"

namespace weft::detail {
namespace {

const char* state_name(std::uint32_t s) noexcept {
  static constexpr const char* kNames[] = {"fresh", "ready", "running", "waiting", "done", "free"};
  return s < std::size(kNames) ? kNames[s] : "corrupt";
}

}  // namespace

void Worker::push_local(Coroutine* c) {
  if (check_) [[unlikely]]  // weft::check: its ready list instead of the deque
    return check_->ready(c, /*woken=*/false);
  deque_.push(c);
  core_.idle().notify(/*strict=*/false);
}

// A coroutine woken (or requeued by yield) goes to the newest end, where this worker
// picks it next, and wakes a sleeping peer only if the deque already held other work:
// the woken one has a worker, and waking a peer to steal it turns every hand-off of a
// contended Mutex or Channel into a wake/steal/park cycle across cores (measured: up to
// 100x slower). Tokio's LIFO slot makes the same choice. Peers already searching still
// steal it.
void Worker::push_ready(Coroutine* c) {
  if (check_) [[unlikely]]  // weft::check: its ready list instead of the deque
    return check_->ready(c, /*woken=*/true);
  const bool others_queued = deque_.size_estimate() != 0;
  c->state.store(kReady, std::memory_order_release);
  deque_.push(c);
  if (others_queued) core_.idle().notify(/*strict=*/false);
}

void expect_waiting(const Coroutine* c) noexcept {
  // Relaxed: whoever suspended it published kWaiting before any waker could find it, and
  // the check is only a tripwire; it costs a plain load on the wake path.
  const std::uint32_t s = c->state.load(std::memory_order_relaxed);
  if (s == kWaiting) return;
  std::fprintf(stderr,
               "weft: internal error: coroutine %llu woken while %s (two wake-ups for one "
               "suspension would run it twice)\n",
               static_cast<unsigned long long>(c->id), state_name(s));
  std::abort();
}

void Worker::make_ready(Coroutine* c) {
  if (c->core != &core_) {  // a waiter of another scheduler goes home (checked there)
    c->core->wake_external(c);
    return;
  }
  expect_waiting(c);
  push_ready(c);
}

// Every scheduling decision of this worker (after a coroutine yields, suspends or
// finishes, and in the loop) comes through here. LIFO from the deque keeps fork-join and
// message ping-pong hot, and alone would starve the rest (tokio#5686): so each run of
// kFairnessTick consecutive decisions takes the head of the injection queue first once
// and the oldest entry of the deque first once. That is the fairness bound of DESIGN.md:
// wherever a coroutine was made ready, it reaches the front of its queue and then runs
// within kFairnessTick decisions of the worker that holds it, or is stolen sooner.
Coroutine* Worker::pick_next(Order order) {
  if (check_) [[unlikely]]  // weft::check: the policy decides (only yield asks for kOldest)
    return check_->pick(/*yielding=*/order == Order::kOldest);
  const std::uint32_t turn = ++pick_turn_ % kFairnessTick;
  if (turn == 0) {
    if (Coroutine* c = take_injected()) return c;
  } else if (turn == kFairnessTick / 2) {
    order = Order::kOldest;
  }
  for (;;) {
    Coroutine* c = order == Order::kOldest ? deque_.pop_oldest() : deque_.pop();
    if (!c) break;
    if (claim(c)) return c;
    unref(c);  // stale entry: claimed out of band (inline join or yield_to)
  }
  // yield() rotates through everything ready, injected work included; the other paths
  // leave an empty deque to find_work(), which also steals.
  return order == Order::kOldest ? take_injected() : nullptr;
}

Coroutine* Worker::take_injected() {
  Coroutine* c = nullptr;
  while (core_.try_pop_injected(c)) {
    if (claim(c)) return c;
    unref(c);
  }
  return nullptr;
}

Coroutine* Worker::steal_round() {
  const unsigned n = core_.size();
  if (n < 2) return steal_fork(nullptr);
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const unsigned start = static_cast<unsigned>(rng_ % n);
  for (unsigned i = 0; i < n; ++i) {
    Worker& victim = core_.worker((start + i) % n);
    if (&victim == this) continue;
    steal_attempts_.bump();
    while (Coroutine* c = victim.steal()) {
      if (claim(c)) {
        steals_.bump();
        if (trace_.on()) [[unlikely]]
          trace_.steal(c->id, victim.index());
        return c;
      }
      unref(c);
    }
    if (ForkDeque* d = victim.active_forks()) {
      if (Coroutine* c = steal_fork(d)) return c;
    }
  }
  return steal_fork(nullptr);
}

}  // namespace weft::detail
