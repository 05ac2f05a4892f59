// SPDX-License-Identifier: Apache-2.0
// A worker without work: searching (spinning steals), parking on its futex or in the
// poller's epoll_wait, and the timer and I/O cadence of a busy worker.
#include <algorithm>
#include <chrono>

#include "arch.hpp"
#include "check_run.hpp"
#include "core.hpp"
#include "futex.hpp"
#include "worker.hpp"

namespace weft::detail {
namespace {

constexpr int kSpinRounds = 64;
constexpr int kPausesPerRound = 32;

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

Coroutine* Worker::find_work() {
  if (check_) [[unlikely]]  // weft::check: virtual time, deadlock detection, iterations
    return check_->find_work(*this);
  for (;;) {
    fire_timers();
    Coroutine* c = pick_next(Order::kNewest);
    if (!c) c = take_injected();
    if (c) {
      found_work_while_searching();
      return c;
    }
    if (!searching_) searching_ = core_.idle().try_start_search();
    if (searching_) {
      for (int round = 0; round < kSpinRounds; ++round) {
        c = steal_round();
        if (!c) c = take_injected();
        if (c) {
          found_work_while_searching();
          return c;
        }
        for (int i = 0; i < kPausesPerRound; ++i) cpu_relax();
      }
      searching_ = false;
      core_.idle().stop_search();  // full barrier before the re-check
      if (core_.has_work()) continue;
    }
    if (core_.exiting()) return nullptr;

    // Nothing to run: give back idle stack pages, then sleep until work, I/O or the next
    // timer of any worker (a busy worker's timers must not wait for it).
    stacks_.trim();
    core_.idle().prepare_park(&sleeper_);
    core_.on_worker_idle();  // after prepare_park: see the shutdown pairing in core.cpp
    // After announcing sleep (Dekker with release_poller()): either a worker giving up
    // the poller role sees us and wakes us, or we see the role free and take it.
    const bool as_poller = core_.poller().active() && core_.poller().try_acquire();
    if (as_poller) sleeper_.in_epoll.store(true, std::memory_order_seq_cst);
    const std::int64_t deadline = core_.earliest_timer();
    if (core_.has_work() || core_.exiting() || deadline <= now_ns()) {
      if (as_poller) release_poller();
      if (core_.idle().cancel_park(&sleeper_)) continue;
      IdleSet::park(&sleeper_);  // a waker already took us: consume its wake-up
      searching_ = true;
      continue;
    }
    parks_.bump();
    const std::int64_t parked_at = trace_.on() ? TraceLog::now_ns() : 0;
    planned_wake_.store(deadline, std::memory_order_seq_cst);
    searching_ = sleep(as_poller, deadline);
    planned_wake_.store(TimerQueue::kNone, std::memory_order_relaxed);
    if (searching_) wakeups_.bump();
    if (parked_at) trace_.park(parked_at, TraceLog::now_ns());
  }
}

// While coroutines wait on fds some idle worker should be blocked in epoll_wait, or their
// readiness waits for a busy worker's next look. So whoever gives the role up hands it
// on: it wakes a sleeper, which takes the role when it parks again.
void Worker::release_poller() noexcept {
  sleeper_.in_epoll.store(false, std::memory_order_relaxed);
  core_.poller().release();
  if (core_.poller().active()) core_.idle().wake_one_sleeper();
}

bool Worker::sleep(bool as_poller, std::int64_t deadline_ns) {
  if (as_poller) {
    const std::int64_t timeout =
        deadline_ns == TimerQueue::kNone ? -1 : std::max<std::int64_t>(0, deadline_ns - now_ns());
    // Skip the wait if a waker already took us (it saw in_epoll or not: Dekker on word).
    if (sleeper_.word.load(std::memory_order_seq_cst) == 1) {
      core_.poller().poll(timeout);  // the ready coroutines land in this worker's deque
    }
    release_poller();
  } else if (deadline_ns == TimerQueue::kNone) {
    IdleSet::park(&sleeper_);
  } else {
    futex_wait_until(&sleeper_.word, 1, deadline_ns);
  }
  const bool listed = core_.idle().cancel_park(&sleeper_);
  if (!listed) IdleSet::park(&sleeper_);  // taken by a waker: wait for its store
  return !listed;
}

bool Worker::fire_timers() {
  const auto now = Clock::now();
  std::size_t fired = 0;
  for (unsigned i = 0; i < core_.size(); ++i) {
    fired += core_.worker(i).timers().fire(now, [this](Waiter* w) { make_ready(w->co); });
  }
  if (fired) timer_fires_.add(fired);
  return fired != 0;
}

void Worker::poll_events() {
  if (timers_.earliest() != TimerQueue::kNone) {
    const std::size_t fired = timers_.fire(Clock::now(), [this](Waiter* w) { make_ready(w->co); });
    if (fired) timer_fires_.add(fired);
  }
  Poller& poller = core_.poller();
  if (poller.active() && poller.try_acquire()) {
    poller.poll(0);
    release_poller();
  }
}

void Worker::found_work_while_searching() noexcept {
  if (!searching_) return;
  searching_ = false;
  // A worker woken to collect I/O (the collector-wake hook, or release_poller()) may find
  // work instead: pass the role's wake-up on while others sleep, so that while any worker
  // is idle one of them is in epoll_wait. Two seq_cst loads, on the searching path only.
  if (core_.poller().needs_collector()) core_.idle().wake_one_sleeper();
  // The last searcher to find work wakes another if more work is queued (Go wakes one
  // unconditionally; on a pool woken for a single task that puts a futex wake, and a
  // second worker's spin, ahead of the task). The look is racy by design: work queued
  // after it is announced by its own notify(), which now sees no searcher; the StoreLoad
  // pairing is that of stop_search() with the strict notify(), as for any searcher.
  if (core_.idle().stop_search() && core_.has_work()) core_.idle().notify(/*strict=*/false);
}

}  // namespace weft::detail
