// SPDX-License-Identifier: Apache-2.0
// weft::Mutex slow paths.
//
// Invariant (under lk_): kWaiters is set iff q_ is not empty, and while q_ is not empty
// kLocked stays set: unlock_slow() passes ownership to the first waiter without ever
// clearing kLocked, so try_lock() (which needs state 0) cannot barge in.
#include "weft/mutex.hpp"

#include <cstdio>
#include <exception>
#include <stdexcept>

#include "arch.hpp"

namespace weft {

namespace detail {
void destroyed_in_use(const char* what) noexcept {
  std::fprintf(stderr, "weft: %s\n", what);
  std::fflush(stderr);
  std::terminate();
}
}  // namespace detail

Mutex::~Mutex() {
  static constexpr const char* kWhat = "weft::Mutex destroyed while locked or waited on";
  detail::check_unused_on_destroy(lk_, kWhat, q_);
  // After lk_ (whose acquire orders every hand-off first): a fast-path unlock needs no lk_,
  // but the destroying thread must have seen it anyway to know the mutex is free.
  if (state_.load(std::memory_order_relaxed) != 0) detail::destroyed_in_use(kWhat);
}

bool Mutex::lock_slow(const detail::Clock::time_point* deadline) {
  // Brief optimistic spin: short critical sections often end within a few hundred cycles,
  // which is far cheaper than a park/resume round trip. Only while nobody is queued (with
  // waiters the mutex is never free, see the invariant).
  for (int i = 0; i < 64; ++i) {
    const std::uint32_t s = state_.load(std::memory_order_relaxed);
    if (s == 0 && acquire()) return true;
    if (s & kWaiters) break;
    detail::cpu_relax();
  }

  detail::Waiter w;
  lk_.lock();
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (!(s & kLocked)) {
      // Freed by a fast-path unlock; with lk_ held nobody can queue, so take it directly.
      if (state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        lk_.unlock();
        return true;
      }
    } else if (state_.compare_exchange_weak(s, s | kWaiters, std::memory_order_relaxed,
                                            std::memory_order_relaxed)) {
      // From here on the owner's fast-path unlock fails and it must come through lk_,
      // which it can take only after park() has released it: no lost wake-up.
      break;
    }
  }
  q_.push_back(w);
  // Woken: unlock_slow() dequeued us and we own the mutex. Happens-before from the
  // previous owner's critical section: its writes precede its claim (acq_rel on
  // Waiter::status, acquired by park()) and its wake (a release, see wait.cpp).
  if (detail::park(w, lk_, deadline)) return true;
  lk_.lock();
  if (!w.linked) {
    // Dequeued by an unlock between our deadline and now: we own the mutex (completion by
    // dequeue, see wait_queue.hpp); its release of lk_ orders its critical section first.
    lk_.unlock();
    return true;
  }
  q_.remove(w);
  // Same critical section as the removal, so unlock_slow() never sees kWaiters with an
  // empty queue.
  if (q_.empty()) state_.fetch_and(~kWaiters, std::memory_order_relaxed);
  lk_.unlock();
  return false;
}

void Mutex::unlock_slow() {
  detail::WakeList wakes;  // wakes the new owner after lk_.unlock(): see wait.hpp's rule
  lk_.lock();
  const std::uint32_t s = state_.load(std::memory_order_relaxed);
  if (!(s & kLocked)) {
    lk_.unlock();
    throw std::logic_error("weft::Mutex::unlock: the mutex is not locked");
  }
  if (!(s & kWaiters)) {
    // The last waiter timed out (and cleared kWaiters) between our fast-path CAS and here.
    state_.store(0, std::memory_order_release);
    lk_.unlock();
    return;
  }
  detail::Waiter* w = q_.pop_front();
  // Ownership passes to `w`: kLocked stays set; kWaiters tracks whether anyone is left.
  // Release so that a later try_lock()/unlock() reading this value is ordered after us.
  if (q_.empty()) state_.store(kLocked, std::memory_order_release);
  // Even if its deadline already fired, `w` is now the owner (completion by dequeue,
  // see wait_queue.hpp): it re-takes lk_, finds itself unlinked and returns true.
  wakes.add(*w);
  lk_.unlock();
  // `wakes` wakes `w` here; the new owner may unlock and destroy the mutex at once.
}

}  // namespace weft
