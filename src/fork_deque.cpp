// SPDX-License-Identifier: Apache-2.0
// The split deque's rare paths: sharing, taking back, stealing (weft/detail/fork_deque.hpp
// has the protocol and its memory-order argument).
#include "weft/detail/fork_deque.hpp"

namespace weft::detail {

bool ForkDeque::after_push() noexcept {
  if (limit_.load(std::memory_order_relaxed) != end_address()) share_after_push();
  return top_ == slots() + kCapacity;
}

void ForkDeque::share_after_push() noexcept {
  if (all_stolen_) {
    // Every slot below the new one was stolen, and ts has tail == split: no thief CAS
    // can succeed on it, so a plain release store starts afresh with the new child
    // shared (a thief that emptied this deque is likely looking again).
    all_stolen_ = false;
    split_ = top_;
    (top_ - 1)->make_done_word();
    limit_.store(end_address(), std::memory_order_relaxed);
    ts_.store(pack(index(top_) - 1, index(top_)), std::memory_order_release);
    announce_shared();
    return;
  }
  limit_.store(end_address(), std::memory_order_relaxed);
  // Share half of the private slots (at least one), oldest first, as Lace does.
  grow_to(index(split_) + static_cast<std::uint32_t>(top_ - split_ + 1) / 2);
  announce_shared();
}

void ForkDeque::grow_to(std::uint32_t split) noexcept {
  for (ForkSlot* s = split_; s != slots() + split; ++s) s->make_done_word();
  std::uint64_t ts = ts_.load(std::memory_order_relaxed);
  // Thieves only move tail; release publishes the slots below the new split.
  while (!ts_.compare_exchange_weak(ts, pack(tail_of(ts), split), std::memory_order_release,
                                    std::memory_order_relaxed)) {
  }
  split_ = slots() + split;
}

bool ForkDeque::share_all() noexcept {
  if (all_stolen_) return false;  // nothing below top_ is left to take
  if (split_ != top_) grow_to(index(top_));
  return has_shared();
}

bool ForkDeque::take_back() noexcept {
  const std::uint32_t i = index(top_) - 1;  // shared, or stolen
  if (all_stolen_) return false;
  std::uint64_t ts = ts_.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint32_t tail = tail_of(ts);
    if (tail > i) {  // taken: so was everything below it
      all_stolen_ = true;
      request_share();  // the next push shares afresh
      return false;
    }
    // Take back the upper half of what is still shared, slot i at least. Relaxed: the
    // owner reads nothing a thief wrote; a failure means a thief moved tail.
    const std::uint32_t split = tail + (i - tail) / 2;
    if (ts_.compare_exchange_weak(ts, pack(tail, split), std::memory_order_relaxed,
                                  std::memory_order_relaxed)) {
      split_ = slots() + split;
      top_ = slots() + i;
      return true;
    }
  }
}

ForkSlot* ForkDeque::steal() noexcept {
  std::uint64_t ts = ts_.load(std::memory_order_acquire);
  for (;;) {
    const std::uint32_t tail = tail_of(ts);
    if (tail >= split_of(ts)) {
      request_share();
      return nullptr;
    }
    // acq_rel: acquire pairs with the owner's release that shared the slot.
    if (ts_.compare_exchange_weak(ts, pack(tail + 1, split_of(ts)), std::memory_order_acq_rel,
                                  std::memory_order_acquire)) {
      return slots() + tail;
    }
  }
}

void ForkDeque::reset() noexcept {
  top_ = slots();
  split_ = slots();
  all_stolen_ = true;
  limit_.store(0, std::memory_order_relaxed);
  ts_.store(0, std::memory_order_relaxed);
}

}  // namespace weft::detail
