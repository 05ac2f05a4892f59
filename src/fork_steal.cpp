// SPDX-License-Identifier: Apache-2.0
// Thieves' side of TaskGroup: a slot taken from a deque runs as a coroutine of its own on
// the thief (it may suspend), and its completion wakes the owner syncing it.
#include <exception>
#include <new>
#include <utility>

#include "core.hpp"
#include "weft/detail/job.hpp"
#include "weft/task_group.hpp"
#include "worker.hpp"

namespace weft::detail {
namespace {

// The payload of a stolen slot's coroutine: no Task refers to it (kPayloadHandleGone from
// the start), so coroutine_entry calls finish() on the coroutine's own stack when the
// slot has run, or the root context does if no stack could be mapped.
struct StolenSlot {
  struct Outcome : ResultBase {
    std::exception_ptr take() noexcept { return std::exchange(error_, nullptr); }
  };
  ForkSlot* slot;
  Outcome outcome;

  static StolenSlot* of(Coroutine* c) noexcept {
    return std::launder(reinterpret_cast<StolenSlot*>(c->payload));
  }
  static void invoke(Coroutine* c) noexcept {
    ForkSlot* s = of(c)->slot;
    s->run(s);
  }
  static void finish(Coroutine* c) noexcept {
    StolenSlot* p = of(c);
    ForkSlot* s = p->slot;
    if (std::exception_ptr e = p->outcome.take()) {
      // It never ran (no stack): the group fails, which also makes run() skip the task
      // and only destroy what it captured.
      s->group->fail(std::move(e));
      s->run(s);
    }
    p->~StolenSlot();
    // The last touch of the slot: the owner may reuse it once it reads kJoinDone.
    const std::uintptr_t waiter = s->done().exchange(kJoinDone, std::memory_order_acq_rel);
    if (waiter > kJoinDone) current_worker()->make_ready(reinterpret_cast<Coroutine*>(waiter));
  }
};
static_assert(sizeof(StolenSlot) <= kPayloadSize);

}  // namespace

Coroutine* Worker::adopt_stolen_slot(ForkSlot* s) {
  Coroutine* c;
  try {
    c = records_.get();
  } catch (...) {
    // No memory for a record: the child fails its group rather than being lost.
    s->group->fail(std::current_exception());
    s->run(s);
    const std::uintptr_t waiter = s->done().exchange(kJoinDone, std::memory_order_acq_rel);
    if (waiter > kJoinDone) make_ready(reinterpret_cast<Coroutine*>(waiter));
    return nullptr;
  }
  reset_record(c);
  c->core = &core_;
  c->id = next_id();
  c->active_id = c->id;
  c->refs.store(1, std::memory_order_relaxed);  // the execution's: nobody else knows it
  c->state.store(kRunning, std::memory_order_relaxed);
  c->payload_word.store(kPayloadHandleGone, std::memory_order_relaxed);
  StolenSlot* p = ::new (static_cast<void*>(c->payload)) StolenSlot{s, {}};
  c->invoke = &StolenSlot::invoke;
  c->destroy = &StolenSlot::finish;
  c->result = &p->outcome;
  spawned_.bump();
  steals_.bump();
  children_stolen_.bump();
  return c;
}

Coroutine* Worker::take_stranded_child() {
  Coroutine* c = steal_fork(nullptr);
  // The explorer claims what it picks (CheckRun::take) and skips what is not fresh.
  if (c) c->state.store(kFresh, std::memory_order_relaxed);
  return c;
}

Coroutine* Worker::steal_fork(ForkDeque* d) {
  ForkSlot* s = nullptr;
  if (d) {
    s = d->steal();
  } else if (core_.forks().any_stranded()) {
    s = core_.forks().steal_stranded();
  }
  return s ? adopt_stolen_slot(s) : nullptr;
}

}  // namespace weft::detail
