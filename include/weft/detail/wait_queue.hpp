// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the blocking primitives (Mutex, CondVar, WaitGroup, Event, Channel):
// an intrusive FIFO of Waiters, deadline arithmetic, and block(), the one park/timeout
// dance they all use. Not public API.
//
// Hand-off protocol used by every primitive ("completion by dequeue"): a waker, holding
// the primitive's SpinLock, writes the waiter's result (through Waiter::slot), unlinks it
// and adds it to a WakeList (wait.hpp), which claims it there and wakes it once the lock
// is released. Being unlinked under the lock IS the completion: a failed claim (the
// waiter's deadline fired first) changes nothing, because a timed-out waiter always
// re-takes the lock before returning, finds itself unlinked, and reports the result it
// was given. So no element, ownership or notification is ever lost to a timeout race, and
// no waker has to undo a hand-off. A waiter whose claim failed is not kept in the WakeList,
// and the ones kept cannot return before they are woken: no waker holds a pointer to a
// waiter that can return.
#pragma once

#include <chrono>
#include <type_traits>

#include "weft/detail/deadline.hpp"
#include "weft/detail/wait.hpp"

namespace weft::detail {

// Doubly linked FIFO through Waiter::next/prev; `linked` mirrors membership. Guarded by the
// owner's SpinLock. Allocates nothing: the nodes are the Waiters on the blocked stacks.
class WaitQueue {
 public:
  WaitQueue() noexcept = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  bool empty() const noexcept { return head_ == nullptr; }
  Waiter* front() const noexcept { return head_; }

  void push_back(Waiter& w) noexcept {
    w.next = nullptr;
    w.prev = tail_;
    if (tail_)
      tail_->next = &w;
    else
      head_ = &w;
    tail_ = &w;
    w.linked = true;
  }

  // Unlinks and returns the oldest waiter, or nullptr.
  Waiter* pop_front() noexcept {
    Waiter* w = head_;
    if (w) remove(*w);
    return w;
  }

  void remove(Waiter& w) noexcept {
    if (w.prev)
      w.prev->next = w.next;
    else
      head_ = w.next;
    if (w.next)
      w.next->prev = w.prev;
    else
      tail_ = w.prev;
    w.next = w.prev = nullptr;
    w.linked = false;
  }

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

// Called with `lock` held and `w` linked into `q`; returns with `lock` released. True when
// a waker dequeued `w` (its result is in place), false when the deadline passed first (`w`
// is then unlinked here, so nobody can complete it any more).
inline bool block(WaitQueue& q, Waiter& w, SpinLock& lock, const Clock::time_point* deadline) {
  if (park(w, lock, deadline)) return true;
  // Timed out; a waker may still have dequeued us between the deadline and now. The lock
  // orders us after that waker's writes to our result.
  lock.lock();
  const bool completed = !w.linked;
  if (!completed) q.remove(w);
  lock.unlock();
  return completed;
}

// Aborts with `what` on stderr: a primitive destroyed while coroutines or threads still
// wait on it would leave them with dangling queue links.
[[noreturn]] void destroyed_in_use(const char* what) noexcept;

// The destructor protocol of every primitive: takes `lock`, checks that every queue is
// empty, releases it, and reports through destroyed_in_use(what) otherwise. Taking the
// lock (acquire) orders the destruction after every earlier critical section on the
// object, whoever ran it (the last waker's included: by the wake protocol it touches
// nothing after releasing the lock), so the queues read here are final.
template <class... Queues>
void check_unused_on_destroy(SpinLock& lock, const char* what, const Queues&... queues) noexcept {
  lock.lock();
  const bool unused = (queues.empty() && ...);
  lock.unlock();
  if (!unused) destroyed_in_use(what);
}

}  // namespace weft::detail
