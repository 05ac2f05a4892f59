// SPDX-License-Identifier: Apache-2.0
#include "parking.hpp"

#include <algorithm>

#include "arch.hpp"
#include "futex.hpp"

namespace weft::detail {

bool IdleSet::try_start_search() noexcept {
  const int busy = workers_ - sleeping_.load(std::memory_order_relaxed);
  int s = searching_.load(std::memory_order_relaxed);
  while (2 * s < std::max(busy, 1)) {
    if (searching_.compare_exchange_weak(s, s + 1, std::memory_order_seq_cst)) return true;
  }
  return false;
}

bool IdleSet::stop_search() noexcept {
  // seq_cst RMW plus fence_after_rmw(): the StoreLoad barrier between "no longer
  // searching" and the re-check, whose loads are not all seq_cst (the injection queue's
  // empty() is oneTBB's). With the strict notify()'s fence on the other side, the two
  // fences order either our decrement before its load of searching_, or its publish
  // before our re-check (the fence rule of [atomics.order]). The RMW alone was enough
  // only on x86-64, where it is a full barrier; on AArch64 a later plain load may pass it.
  const bool last = searching_.fetch_sub(1, std::memory_order_seq_cst) == 1;
  fence_after_rmw();
  return last;
}

void IdleSet::notify(bool strict) noexcept {
  if (strict) full_fence();  // order the caller's publish before the loads below
  if (searching_.load(std::memory_order_seq_cst) != 0) return;
  if (sleeping_.load(std::memory_order_seq_cst) == 0) return;
  wake_one();
}

void IdleSet::wake_one() noexcept {
  Sleeper* s;
  {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return;
    s = idle_.back();
    idle_.pop_back();
    sleeping_.fetch_sub(1, std::memory_order_relaxed);
    searching_.fetch_add(1, std::memory_order_seq_cst);  // the woken worker searches
  }
  wake(s);
}

void IdleSet::wake(Sleeper* s) noexcept {
  // Dekker with the sleeper (Worker::sleep): it sets in_epoll then checks word; we clear
  // word then check in_epoll, so either it skips epoll_wait or we interrupt it. Sleepers
  // live in their Worker, which outlives every call into its scheduler (Core waits for
  // outside callers), so reading after the store is safe.
  s->word.store(0, std::memory_order_seq_cst);
  if (s->in_epoll.load(std::memory_order_seq_cst) && interrupt_) {
    interrupt_(interrupt_ctx_);
  } else {
    futex_wake(&s->word, 1);  // on the word's address only: harmless if it is gone
  }
}

void IdleSet::prepare_park(Sleeper* s) {
  s->word.store(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    idle_.push_back(s);
    // seq_cst RMW plus fence_after_rmw() (after the unlock, whose release lets later loads
    // move above it): the StoreLoad barrier between announcing sleep and the re-check, as in
    // stop_search().
    sleeping_.fetch_add(1, std::memory_order_seq_cst);
  }
  fence_after_rmw();
}

bool IdleSet::cancel_park(Sleeper* s) noexcept {
  std::lock_guard lock(mu_);
  auto it = std::find(idle_.begin(), idle_.end(), s);
  if (it == idle_.end()) return false;
  idle_.erase(it);
  sleeping_.fetch_sub(1, std::memory_order_relaxed);
  s->word.store(0, std::memory_order_relaxed);
  return true;
}

void IdleSet::park(Sleeper* s) noexcept {
  while (s->word.load(std::memory_order_acquire) == 1) futex_wait(&s->word, 1);
}

void IdleSet::wake_all() noexcept {
  std::vector<Sleeper*> all;
  {
    std::lock_guard lock(mu_);
    all.swap(idle_);
    sleeping_.fetch_sub(static_cast<int>(all.size()), std::memory_order_relaxed);
    searching_.fetch_add(static_cast<int>(all.size()), std::memory_order_seq_cst);
  }
  for (Sleeper* s : all) wake(s);
}

}  // namespace weft::detail
