// SPDX-License-Identifier: Apache-2.0
// ChaseLevDeque: the per-worker work-stealing deque of ready coroutines.
//
// Algorithm: D. Chase and Y. Lev, "Dynamic Circular Work-Stealing Deque" (SPAA 2005), in
// the C11 formulation of N. M. Lê, A. Pop, A. Cohen, F. Zappa Nardelli, "Correct and
// Efficient Work-Stealing for Weak Memory Models" (PPoPP 2013), with the known fixes to
// copies of that listing:
//  - push reloads the buffer pointer after growing (missing in the paper's listing);
//  - a thief reads the slot before its CAS on top, and slots are atomics, so a read that
//    races with the owner's overwrite is not a data race (the CAS then fails);
//  - buffers replaced by growth are retired, not freed, until the deque dies: a thief
//    may still be reading one;
//  - a thief that loses the CAS returns nothing, so a steal racing a resize cannot
//    return an item twice (cf. crossbeam GHSA-pqqp-xmhj-wgcw).
//
// Memory orders. The paper uses relaxed accesses plus stand-alone fences; ThreadSanitizer
// does not model fences (taskflow#116, oneTBB#1290), so the fences are folded into the
// accesses they order, which costs nothing extra on x86:
//  - push: the slot store is relaxed; bottom is stored with release, so a thief that
//    acquires the new bottom sees the slot and everything written to the item before.
//  - pop of two or more items: the owner's store of bottom-1 and its load of top are
//    both seq_cst (the paper's seq_cst fence between them): in the single total order
//    either the thief's load of bottom sees the decrement, or the owner's load of top
//    sees the thief's increment, so the last item cannot be taken by both. The race for
//    the last item is decided by a seq_cst CAS on top.
//  - pop of fewer than two items: bottom is left alone and the item taken from top like
//    a thief takes it, so the CAS alone decides; relaxed loads suffice (see pop()).
//  - steal: top and bottom are loaded seq_cst in that order (the paper's fence between
//    them), bottom with acquire semantics for the slot contents; the CAS on top is
//    seq_cst and makes at most one thief (or the owner) win each index.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "arch.hpp"

namespace weft::detail {

template <class T>
class ChaseLevDeque {
 public:
  explicit ChaseLevDeque(std::size_t initial_capacity = 64)
      : buffer_(new Buffer(round_up_pow2(initial_capacity))) {
    retired_.emplace_back(buffer_.load(std::memory_order_relaxed));
  }
  ChaseLevDeque(const ChaseLevDeque&) = delete;
  ChaseLevDeque& operator=(const ChaseLevDeque&) = delete;

  // Owner only.
  void push(T* item) {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    const std::int64_t t = top_.load(std::memory_order_acquire);
    Buffer* a = buffer_.load(std::memory_order_relaxed);
    if (b - t > static_cast<std::int64_t>(a->mask)) {
      a = grow(a, t, b);  // use the new buffer from here on (the listing's bug)
    }
    a->put(b, item);
    bottom_.store(b + 1, std::memory_order_release);
  }

  // Owner only; newest item, or nullptr when empty.
  T* pop() noexcept {
    // Fewer than two items: no store to bottom, so no fence. top only grows, and only up
    // to bottom, which nobody but us moves; a read of top is therefore never above its
    // value now. Seen >= bottom, the deque is empty. Seen one below, top is either
    // still there (the one item is the oldest too: the CAS on top decides it against the
    // thieves, as a steal would) or a thief took it (the CAS fails, empty again). Joins
    // pop their just-spawned child from an otherwise empty deque: one CAS, not the
    // seq_cst store and the CAS of the general path.
    const std::int64_t end = bottom_.load(std::memory_order_relaxed);
    const std::int64_t first = top_.load(std::memory_order_relaxed);
    if (end - first < 2) return take_top(first, end);
    const std::int64_t b = end - 1;
    Buffer* a = buffer_.load(std::memory_order_relaxed);
    bottom_.store(b, std::memory_order_seq_cst);
#if defined(__aarch64__)
    // AArch64 orders this STLR before the LDAR below, but qemu-user on an x86 host (where
    // CI runs the aarch64 suite) emits no barrier between them and lets the host reorder
    // them: an item was taken twice under qemu (ChaseLevDeque.OneOwnerThreeThievesEvery-
    // ItemOnce). The paper's own form has this fence; on hardware it is one DMB per pop.
    full_fence();
#endif
    std::int64_t t = top_.load(std::memory_order_seq_cst);
    if (t > b) {  // was empty
      bottom_.store(b + 1, std::memory_order_relaxed);
      return nullptr;
    }
    T* item = a->get(b);
    if (t == b) {  // last item: race the thieves for it on top
      if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
        item = nullptr;
      }
      bottom_.store(b + 1, std::memory_order_relaxed);
    }
    return item;
  }

  // Owner only; the newest item and its index without taking it (no fence, so no cost).
  // A hint: if it is the last item a thief may take it meanwhile, so callers compare the
  // pointer but must not dereference it.
  const T* peek_newest(std::int64_t& index) const noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    if (b <= top_.load(std::memory_order_relaxed)) return nullptr;
    index = b - 1;
    return buffer_.load(std::memory_order_relaxed)->get(b - 1);
  }

  // Owner only; oldest item (the thieves' end), or nullptr when empty or lost to a thief.
  // Same protocol as steal(), but the owner knows bottom exactly, so no ordering of the
  // bottom load is needed: only the CAS on top, which arbitrates against thieves.
  T* pop_oldest() noexcept {
    const std::int64_t t = top_.load(std::memory_order_seq_cst);
    return take_top(t, bottom_.load(std::memory_order_relaxed));
  }

  // Any thread; oldest item, or nullptr when empty or when another thief won the race.
  T* steal() noexcept {
    const std::int64_t t = top_.load(std::memory_order_seq_cst);
    return take_top(t, bottom_.load(std::memory_order_seq_cst));
  }

  // Any thread; a snapshot that may be stale by the time it returns.
  bool empty() const noexcept {
    const std::int64_t t = top_.load(std::memory_order_seq_cst);
    return t >= bottom_.load(std::memory_order_seq_cst);
  }
  std::size_t size_estimate() const noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    const std::int64_t t = top_.load(std::memory_order_relaxed);
    return b > t ? static_cast<std::size_t>(b - t) : 0;
  }

 private:
  struct Buffer {
    explicit Buffer(std::size_t cap) : mask(cap - 1), slots(new std::atomic<T*>[cap]) {}
    void put(std::int64_t i, T* v) noexcept {
      slots[static_cast<std::size_t>(i) & mask].store(v, std::memory_order_relaxed);
    }
    T* get(std::int64_t i) const noexcept {
      return slots[static_cast<std::size_t>(i) & mask].load(std::memory_order_relaxed);
    }
    std::size_t mask;
    std::unique_ptr<std::atomic<T*>[]> slots;
  };

  static std::size_t round_up_pow2(std::size_t n) noexcept {
    std::size_t c = 2;
    while (c < n) c <<= 1;
    return c;
  }

  // The common end of steal(), pop_oldest() and a pop of the last item: read slot t, then
  // race for it on top.
  T* take_top(std::int64_t t, std::int64_t b) noexcept {
    if (t >= b) return nullptr;
    // acquire: the buffer a grow() published after filling it.
    T* item = buffer_.load(std::memory_order_acquire)->get(t);
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
      return nullptr;
    }
    return item;
  }

  Buffer* grow(Buffer* old, std::int64_t t, std::int64_t b) {
    auto fresh = std::make_unique<Buffer>((old->mask + 1) * 2);
    for (std::int64_t i = t; i < b; ++i) fresh->put(i, old->get(i));
    Buffer* a = fresh.get();
    retired_.push_back(std::move(fresh));  // old stays alive: thieves may still read it
    buffer_.store(a, std::memory_order_release);
    return a;
  }

  alignas(64) std::atomic<std::int64_t> top_{0};
  alignas(64) std::atomic<std::int64_t> bottom_{0};
  alignas(64) std::atomic<Buffer*> buffer_;
  std::vector<std::unique_ptr<Buffer>> retired_;  // owner only; every buffer ever used
};

}  // namespace weft::detail
