// SPDX-License-Identifier: Apache-2.0
// The claim protocol: a queue entry is only a hint, and exactly one CAS decides which
// queue entry, inline join or yield_to runs a coroutine (coroutine.hpp, State).
#pragma once

#include "weft/detail/coroutine.hpp"

namespace weft::detail {

// Claims a queued coroutine for running: the one CAS that decides which queue entry,
// inline join or yield_to gets to run it. acquire pairs with the release that made it
// queued (spawn or the handoff that saved its context).
inline bool claim(Coroutine* c) noexcept {
  std::uint32_t s = c->state.load(std::memory_order_acquire);
  while (s == kFresh || s == kReady) {
    if (c->state.compare_exchange_weak(s, kRunning, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      return true;
    }
  }
  return false;
}

// Claims a never-started coroutine to run it inline on its joiner's stack. Only kFresh:
// a child that a thief started, that suspended and was woken (kReady) since the joiner
// looked must be resumed on its own stack, not entered a second time.
inline bool claim_fresh(Coroutine* c) noexcept {
  std::uint32_t s = kFresh;
  return c->state.compare_exchange_strong(s, kRunning, std::memory_order_acq_rel,
                                          std::memory_order_relaxed);
}

// claim_fresh() for a joiner that just popped the coroutine's queue entry from its own
// worker's deque, and holds its handle: no CAS, because nobody else can claim it. A
// fresh coroutine has exactly one entry (this one), and yield_to or another join needs
// the handle. An earlier yield_to may have started it (then it is not fresh; its claim
// happens-before the handle came back). Relaxed: the spawn that filled the record and
// pushed the entry ran on this thread (the deque is this worker's own).
inline bool claim_popped_fresh(Coroutine* c) noexcept {
  if (c->state.load(std::memory_order_relaxed) != kFresh) return false;
  c->state.store(kRunning, std::memory_order_relaxed);
  return true;
}

}  // namespace weft::detail
