// SPDX-License-Identifier: Apache-2.0
// Switching: giving a coroutine its stack, the switch itself, and the handoff the next
// context runs once the previous one is off its stack (suspend, then publish); yield,
// yield_to and park are switches with a handoff.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "claim.hpp"
#include "core.hpp"
#include "weft/detail/job.hpp"
#include "worker.hpp"

namespace weft::detail {
namespace {

[[noreturn]] void report_overflow(const Coroutine* c) {
  std::fprintf(stderr,
               "weft: coroutine %llu overflowed its %zu-byte stack (canary at the low end "
               "overwritten)\n",
               static_cast<unsigned long long>(c->id), c->stack ? c->stack->size : 0);
  std::abort();
}

}  // namespace

SwitchTarget Worker::target_for(Coroutine* next) {
  if (!next) return {root_sp_, root_tsan_fiber_, root_stack_lo_, root_stack_size_};
  return {next->context, next->tsan_fiber, next->stack->lo, next->stack->size};
}

Coroutine* Worker::startable(Coroutine* c) noexcept {
  if (!c || c->stack) return c;
  try {
    give_stack(c);
    return c;
  } catch (...) {
    // No stack can be mapped (RLIMIT_AS, huge stacks): the coroutine fails as if it had
    // thrown. Its completion may run user code (a detached one's payload), which belongs
    // on no coroutine's path between a switch decision and its handoff: the root context
    // completes it, right after this switch (there is only ever one: the switch goes to
    // the root).
    c->result->fail(std::current_exception());
    unstartable_ = c;
    return nullptr;
  }
}

void Worker::fail_unstartable() {
  Coroutine* c = std::exchange(unstartable_, nullptr);
  // The payload protocol as at the end of coroutine_entry; with no stack of its own, a
  // detached coroutine's payload (and the handler that reports the failure) is destroyed
  // on this worker's own stack, outside any handoff.
  if (c->payload_word.fetch_or(kPayloadFinished, std::memory_order_acq_rel) & kPayloadHandleGone) {
    c->destroy(c);
  }
  publish_completion(c);
}

void Worker::note_switch(const Coroutine* next) noexcept {
  // release: a thief that reads the pointer finds the deque's reset (or use) before it.
  ForkDeque* forks = next ? next->forks : nullptr;
  active_forks_.store(forks, std::memory_order_release);
  note_running_forks(forks);
  switches_.bump();
  if (next) runs_.bump();
  // A switch to the root context is traced when the root resumes (main()), so a run slice
  // ends where the root takes over whatever the path.
  if (trace_.on() && next) [[unlikely]]
    trace_.switch_to(next->active_id);
}

void Worker::trade_exception_state(Coroutine* from, Coroutine* to) noexcept {
  void*& save_caught = from ? from->eh_caught : root_eh_caught_;
  unsigned& save_uncaught = from ? from->eh_uncaught : root_eh_uncaught_;
  swap_exception_state(thread_eh_, save_caught, save_uncaught, to ? to->eh_caught : root_eh_caught_,
                       to ? to->eh_uncaught : root_eh_uncaught_);
}

void Worker::give_stack(Coroutine* c) {
  if (c->context) {  // it ran before and completed: a stale claim would restart it
    std::fprintf(stderr, "weft: internal error: finished coroutine %llu claimed to run again\n",
                 static_cast<unsigned long long>(c->id));
    std::abort();
  }
  Stack* s = stacks_.get();
  c->stack = s;
  c->context = make_context(s->top(), &Worker::coroutine_entry);
  c->tsan_fiber = s->tsan_fiber;
}

void Worker::switch_away(Worker* w, Coroutine* me, Coroutine* next, Handoff& h) {
  // A coroutine that suspends with TaskGroup children nobody took leaves them where any
  // idle worker finds them: the child it waits for may be one of them.
  if (me->forks && !me->forks->all_taken()) [[unlikely]] {
    if (w->core_.forks().strand(me->forks)) w->core_.idle().notify(/*strict=*/true);
  }
  next = w->startable(next);
  const SwitchTarget to = w->target_for(next);
  w->current_ = next;
  w->note_switch(next);
  w->trade_exception_state(me, next);
  void* transfer = switch_context(&me->context, &me->asan_fake_stack, to, &h);
  // Resumed, possibly on another thread: re-read the worker.
  current_worker()->after_switch(transfer);
}

void Worker::after_switch(void* transfer) {
  if (transfer) finish_handoff(*static_cast<const Handoff*>(transfer));
  // Every few dozen switches a busy worker looks at due timers and I/O readiness: only
  // after the handoff, never in pick_next(), because a parking coroutine holds its
  // primitive's lock until its handoff runs, and collecting I/O takes fd locks.
  if (++poll_turn_ % kFairnessTick == 0) poll_events();
}

void Worker::finish_handoff(const Handoff& handoff) {
  const Handoff h = handoff;  // copy before publishing prev: it lives on prev's stack
  if (h.prev->stack && !h.prev->stack->canary_intact()) report_overflow(h.prev);
  switch (h.kind) {
    case Handoff::kRequeue:
      push_ready(h.prev);
      break;
    case Handoff::kWaitJoin: {
      h.prev->state.store(kWaiting, std::memory_order_relaxed);
      std::uintptr_t expected = 0;
      // acq_rel: publishes prev's saved context to the completer; acquire on failure
      // sees the result of a child that finished meanwhile.
      if (!h.join_word->compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(h.prev),
                                                std::memory_order_acq_rel,
                                                std::memory_order_acquire)) {
        make_ready(h.prev);  // already done: run the waiter again
      }
      break;
    }
    case Handoff::kComplete:
      complete(h.prev);
      break;
    case Handoff::kPark: {
      h.prev->state.store(kWaiting, std::memory_order_relaxed);
      // Once armed, the timer may fire on another worker and resume prev, whose stack
      // holds the waiter: read what we need first and touch the waiter no more.
      if (h.waiter->has_deadline) {
        const std::int64_t due = TimerQueue::ns_of(h.waiter->deadline);
        timers_.add(h.waiter);
        // Sleeping workers planned their wake-ups before this deadline existed.
        // If it is due before any sleeping worker planned to wake, wake one to re-plan.
        if (timers_.earliest() == due && due < core_.earliest_planned_wake()) {
          core_.idle().wake_one_sleeper();
        }
      }
      // From here a waker may find and resume prev. (The lock is the primitive's, which
      // outlives its waiters; a wait with no queue has none.)
      if (h.lock) h.lock->unlock();
      break;
    }
  }
}

void Worker::yield_current() {
  Coroutine* me = current_;
  Coroutine* next = pick_next(Order::kOldest);  // the oldest ready work: yield rotates
  if (!next) {
    // Nothing else is ready: keep running. A coroutine that polls in a yield() loop makes
    // no handoffs, so look at due timers (any worker's) and I/O from here too, or the
    // very thing it waits for may never be woken.
    if (++poll_turn_ % kFairnessTick != 0) return;
    fire_timers();
    poll_events();
    next = pick_next(Order::kOldest);
    if (!next) return;
  }
  Handoff h{Handoff::kRequeue, me, nullptr};
  switch_away(this, me, next, h);
}

void Worker::yield_to_current(Coroutine* target) {
  Coroutine* me = current_;
  if (target != me && target->core == &core_ && claim(target)) {
    // Claimed out of band: its queue entry goes stale but keeps its reference, so the
    // execution takes one of its own.
    target->refs.fetch_add(1, std::memory_order_relaxed);
    Handoff h{Handoff::kRequeue, me, nullptr};
    switch_away(this, me, target, h);
    return;
  }
  yield_current();
}

void Worker::park_current(Waiter& w, SpinLock* lock) {
  Coroutine* me = current_;
  Handoff h{Handoff::kPark, me, nullptr, &w, lock};
  switch_away(this, me, pick_next(Order::kNewest), h);
}

void Worker::wait_word(std::atomic<std::uintptr_t>* word) {
  Coroutine* me = current_;
  Handoff h{Handoff::kWaitJoin, me, word};
  switch_away(this, me, pick_next(Order::kNewest), h);
}

}  // namespace weft::detail
