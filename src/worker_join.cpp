// SPDX-License-Identifier: Apache-2.0
// A coroutine's end and its joins: completion (stack back, joiner woken, references
// dropped), the entry of every fresh stack, and join's choice between running a child
// inline and suspending.
#include "check_run.hpp"
#include "claim.hpp"
#include "core.hpp"
#include "futex.hpp"
#include "weft/detail/job.hpp"
#include "worker.hpp"

namespace weft::detail {

void unref(Coroutine* c) noexcept {
  // A holder of the last reference skips the atomic read-modify-write: nobody can take a
  // new reference without holding one (spawn sets the count; yield_to adds one through
  // its handle), so a count of 1 is ours alone. The acquire load pairs with the release
  // half of every earlier holder's fetch_sub, as the RMW's acquire would.
  if (c->refs.load(std::memory_order_acquire) != 1 &&
      c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) {
    return;
  }
  // No user code here: the payload was destroyed by its coroutine or its handle's owner
  // (coroutine.hpp, payload_word), so dropping the last reference inside a handoff or a
  // queue clean-up only recycles the record.
  Worker* w = current_worker();
  if (w) {
    w->records().put(c);
  } else {
    delete_record(c);
  }
}

void Worker::complete(Coroutine* c) {
  // Only now that no thread runs on it; its TSan fiber stays with the stack. Its deque
  // is empty: coroutine_entry synced every child left in it.
  if (c->forks) core_.forks().put(std::exchange(c->forks, nullptr));
  stacks_.put(c->stack);
  c->stack = nullptr;
  c->tsan_fiber = nullptr;
  publish_completion(c);
}

void Worker::publish_completion(Coroutine* c) {
  if (check_) [[unlikely]]  // weft::check: no longer live (before the record can be reused)
    check_->completed(c);
  c->state.store(kDone, std::memory_order_relaxed);
  completed_.bump();
  const std::uintptr_t waiter = c->join_word.exchange(kJoinDone, std::memory_order_acq_rel);
  if (waiter > kJoinDone) {
    if (waiter & kThreadWaiterTag) {
      reinterpret_cast<ThreadWaiter*>(waiter & ~std::uintptr_t{7})->wake();
    } else {
      make_ready(reinterpret_cast<Coroutine*>(waiter));
    }
  }
  unref(c);  // the execution's reference
}

void Worker::coroutine_entry(void* transfer) {
  enter_fresh_context();
  Worker* w = current_worker();
  w->after_switch(transfer);
  Coroutine* me = w->current_;
  me->invoke(me);
  // Children of a TaskGroup that outlives this coroutine (heap-allocated, never waited)
  // are still in its deque: they run now, as Cilk's implicit sync at a function's end.
  if (me->forks) sync_all(*me->forks);
  // Still on its own stack: if the handle is gone, the payload's destructors (and the
  // unhandled-exception handler) run here, where they may suspend like any coroutine
  // code. acq_rel: pairs with release() (api.cpp), the other half of the protocol.
  if (me->payload_word.fetch_or(kPayloadFinished, std::memory_order_acq_rel) & kPayloadHandleGone) {
    me->destroy(me);
  }
  current_worker()->finish_current();
}

void Worker::finish_current() {
  Coroutine* me = current_;
  Coroutine* next = startable(pick_next(Order::kNewest));
  // The handoff lives in the worker, not on this stack: the ASan fake stack of a
  // finishing context dies at the switch. The next context on this thread reads it first.
  final_handoff_ = {Handoff::kComplete, me, nullptr};
  const SwitchTarget to = target_for(next);
  current_ = next;
  note_switch(next);
  trade_exception_state(me, next);
  // nullptr fake-stack save: this context is finished and its ASan fake stack may die.
  switch_context(&me->context, nullptr, to, &final_handoff_);
  __builtin_unreachable();
}

void Worker::wait_current(Coroutine* child) {
  Coroutine* me = current_;
  if (child->core == &core_ && child->state.load(std::memory_order_relaxed) == kFresh) {
    // The common fork-join case: the child is our newest entry. Taking the entry itself
    // leaves nothing stale behind and hands us its reference. Stale entries above it
    // (children already run inline out of order) are dropped on the way, so joining in
    // spawn order does not pile them up.
    for (;;) {
      std::int64_t at = -1;
      const Coroutine* newest = deque_.peek_newest(at);
      if (!newest) break;
      // In-order joins (spawn ten, join the first) find the same live sibling on top each
      // time: seen live in this very slot by the last join, it is left alone, saving the
      // pop's fence. Were it claimed since, it is merely cleaned up later.
      if (newest != child && newest == live_hint_ && at == live_hint_at_) break;
      Coroutine* x = deque_.pop();  // the newest (or nothing, if a thief took the last)
      if (!x) break;
      if (x == child && claim_popped_fresh(child)) {
        // We hold every reference there is: the handle (the only one, in this join) and
        // the one entry its spawn made, just popped. Drop the entry's without an atomic
        // read-modify-write; the handle's goes in Task::join.
        child->refs.store(1, std::memory_order_relaxed);
        run_inline(me, child);
        return;
      }
      // Not startable here: live work (perhaps the child itself, started by a thief and
      // since woken) stays for the worker loop; a stale entry is dropped.
      const std::uint32_t s = x->state.load(std::memory_order_acquire);
      if (s == kFresh || s == kReady) {
        deque_.push(x);  // back into slot `at`
        live_hint_ = x;
        live_hint_at_ = at;
        break;
      }
      unref(x);  // the child's handle keeps it alive if x was the child
      if (x == child) break;
    }
    if (claim_fresh(child)) {
      // Its entry goes stale and keeps its reference; the run needs none of its own: the
      // handle, held by this join, keeps the record alive until the run is over.
      run_inline(me, child);
      return;
    }
  }
  wait_word(&child->join_word);
  // Resumed: the child is done (its completion woke us, or the handoff found it done).
}

// Runs a claimed, never-started child on the joiner's stack (no stack, no switch). If the
// child suspends, the joiner's coroutine suspends with it, which is what join means. The
// run holds no reference: the joiner's handle outlives it.
void Worker::run_inline(Coroutine* me, Coroutine* child) {
  const std::uint64_t outer = me->active_id;
  me->active_id = child->id;
  runs_.bump();
  // The child sees exactly what it would on a fresh stack: the default FP control state;
  // and whatever it sets stays its own, as the switcher guarantees between contexts.
  // The joiner's state is restored unconditionally, not read back and compared: a read
  // (stmxcsr) costs about 5 ns on AMD EPYC, where a write costs well under 1.
  const FpControl fp = read_fp_control();
  if (!(fp == kDefaultFpControl)) write_fp_control(kDefaultFpControl);
  child->invoke(child);
  // The joiner holds the only handle and destroys the payload after the join
  // (release_joined): nobody else reads this word.
  child->payload_word.store(kPayloadFinished, std::memory_order_relaxed);
  write_fp_control(fp);
  me->active_id = outer;
  Worker* w = current_worker();  // the child may have migrated us
  if (w->check_) [[unlikely]]    // weft::check: no longer live
    w->check_->completed(child);
  child->state.store(kDone, std::memory_order_relaxed);
  w->completed_.bump();
  // Nobody else can wait: the joiner is this coroutine, which holds the only handle.
  child->join_word.store(kJoinDone, std::memory_order_release);
}

}  // namespace weft::detail
