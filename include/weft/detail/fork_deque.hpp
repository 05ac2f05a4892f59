// SPDX-License-Identifier: Apache-2.0
// ForkDeque: the split deque of fork-join task slots behind weft::TaskGroup. Not public API.
//
// The technique is Lace's non-blocking split deque (van Dijk and van de Pol, "Lace:
// non-blocking split deque for work-stealing", Euro-Par 2014 workshops); this is our own
// implementation, adapted to stackful coroutines:
//  - A task lives in its slot (function pointer, group, captured state): a spawn
//    allocates nothing.
//  - Slots [split, top) are private: the owner pushes and pops them with plain loads and
//    stores. Slots [tail, split) are shared: thieves take the oldest with a CAS on the
//    packed word ts = (tail, split). A thief that finds nothing shared sets `request`, and
//    the owner's next push shares half of its private slots.
//  - A deque belongs to one coroutine, not to a worker, and travels with it when it
//    migrates: a TaskGroup's children are always in its owner's deque. Thieves find it
//    through the worker that runs the coroutine (Worker::active_forks), or, while the
//    coroutine is suspended with children nobody took, through the scheduler's list of
//    stranded deques (src/fork_steal.cpp).
//  - A stolen slot runs on the thief as a coroutine of its own (it may suspend). Its
//    completion word `done` follows the join_word protocol (0, a waiting coroutine, or
//    kJoinDone): a sync of a stolen slot suspends its owner until the thief is done.
//
// Memory orders (the owner's plain accesses are private until a release on ts):
//  - Every change of ts by the owner that shares slots (publish_fresh, grow, strand) is
//    a release (store or CAS) made after the slots were written; a thief's CAS on ts is
//    acq_rel, so its reads of the slot happen after the owner's writes.
//  - The owner takes shared slots back with a CAS on ts (take_back): tail and split are
//    one word, so a thief's CAS on a stale snapshot fails, and the owner learns exactly
//    which slots were taken. (Lace writes the split half alone and needs a fence and a
//    second look; a CAS costs the same on this rare path and is plain C++.)
//  - A slot is reused only after its sync: a private one by the owner alone, a stolen
//    one after the owner read done == kJoinDone with acquire, which pairs with the
//    thief's acq_rel exchange made after its last access to the slot.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "weft/detail/coroutine.hpp"

namespace weft::detail {

struct GroupState;
struct ForkSlot;

// Runs the slot's task unless its group is cancelled, records an exception in the group,
// and destroys the captured state: the slot is free to reuse afterwards.
using ForkRun = void (*)(ForkSlot*) noexcept;

inline constexpr std::size_t kForkSlotStorage = 40;

struct alignas(64) ForkSlot {
  ForkRun run;
  GroupState* group;
  // Used only once the slot was stolen: 0, the waiting owner, or kJoinDone. 0 whenever
  // the slot is free (sync_one() resets it after a stolen run).
  std::atomic<std::uintptr_t> done{0};
  alignas(8) unsigned char storage[kForkSlotStorage];
};
static_assert(sizeof(ForkSlot) == 64);

class ForkDeque {
 public:
  // 64 KiB of slots. A group that holds more children than this runs the extra ones at
  // once (a valid schedule): by then thieves have plenty to take.
  static constexpr std::uint32_t kCapacity = 1024;

  // ---- owner (the coroutine that the deque belongs to) ----

  // True when the caller runs on the owner's stack: the owner itself, or a child it runs
  // inline (the same coroutine, as far as its deque goes). Any other coroutine or thread
  // runs on another stack. No thread-pointer read and no call: spawn() and wait() ask
  // this on every fork-join step.
  [[gnu::always_inline]] bool owned_by_caller() const noexcept {
    const auto sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    return sp - stack_lo_ < stack_size_;
  }
  void set_owner_stack(const void* lo, std::size_t size) noexcept {
    stack_lo_ = reinterpret_cast<std::uintptr_t>(lo);
    stack_size_ = size;
  }

  // The slot a push fills, or nullptr when the deque is full (the caller then runs the
  // task at once: running a child early is always a valid fork-join schedule).
  ForkSlot* push_slot() noexcept { return top_ < kCapacity ? &slots_[top_] : nullptr; }
  // Makes the filled slot part of the deque. Plain stores, unless every shared slot was
  // taken (the new one is shared at once) or a thief asked for more.
  void commit_push() noexcept {
    ++top_;
    if (all_stolen_ || request_.load(std::memory_order_relaxed)) [[unlikely]]
      share_after_push();
  }
  // The newest slot if it is private (it is then popped), else nullptr: sync_shared().
  ForkSlot* pop_private() noexcept { return top_ > split_ ? &slots_[--top_] : nullptr; }
  // When pop_private() found none: the newest slot, shared or stolen.
  ForkSlot* newest() noexcept { return &slots_[top_ - 1]; }
  // Takes the newest slot back from the thieves and pops it (true), or finds it stolen
  // (false: the caller waits until its done word says kJoinDone, then pop_stolen()).
  bool take_back() noexcept;
  void pop_stolen() noexcept { --top_; }
  bool empty() const noexcept { return top_ == 0; }
  // True when thieves took every child (or there is none): nothing would be left behind
  // if the owner suspended. Owner only; a relaxed look at tail (a stale one errs safe).
  bool all_taken() const noexcept {
    return all_stolen_ || tail_of(ts_.load(std::memory_order_relaxed)) >= top_;
  }
  // True when no shared child waits for a thief: the moment for lazy binary splitting
  // to offer more work. Owner only, as all_taken().
  bool nothing_shared() const noexcept {
    return all_stolen_ || tail_of(ts_.load(std::memory_order_relaxed)) >= split_;
  }
  // Shares every private child at once (a CAS, and a wake-up for an idle worker): lazy
  // splitting offers its new half only when thieves have taken everything else.
  void share_now() noexcept {
    if (split_ != top_ && !all_stolen_) {
      grow_to(top_);
      announce_shared();
    }
  }
  // The owner suspends: shares every private slot, so that children nobody took yet can
  // be stolen while it waits (and lists the deque as stranded if any are left).
  bool share_all() noexcept;

  // ---- thieves (any worker) ----

  // Takes the oldest shared slot, or returns nullptr (asking the owner to share more).
  ForkSlot* steal() noexcept;
  // Something is shared and not yet taken (a snapshot).
  bool has_shared() const noexcept {
    const std::uint64_t ts = ts_.load(std::memory_order_acquire);
    return tail_of(ts) < split_of(ts);
  }

  // ---- the scheduler's pool ----
  void reset() noexcept;
  std::atomic<bool> listed{false};  // in the stranded list (changed under its mutex)

 private:
  static std::uint32_t tail_of(std::uint64_t ts) noexcept { return static_cast<std::uint32_t>(ts); }
  static std::uint32_t split_of(std::uint64_t ts) noexcept {
    return static_cast<std::uint32_t>(ts >> 32);
  }
  static std::uint64_t pack(std::uint32_t tail, std::uint32_t split) noexcept {
    return (std::uint64_t{split} << 32) | tail;
  }
  void share_after_push() noexcept;
  static void announce_shared() noexcept;
  // Moves the split to `split` (> the current one), publishing the slots below it.
  void grow_to(std::uint32_t split) noexcept;

  // Owner-private. Invariant: tail <= split_ <= top_, except while all_stolen_: then every
  // slot below top_ was stolen (tail >= top_), and the next push starts afresh.
  std::uint32_t top_ = 0;
  std::uint32_t split_ = 0;
  bool all_stolen_ = true;       // an empty deque: its first child is shared at once
  std::uintptr_t stack_lo_ = 0;  // the owner coroutine's stack (0, 0 while pooled)
  std::size_t stack_size_ = 0;

  // Written by thieves (and by the owner on the rare paths above).
  alignas(64) std::atomic<std::uint64_t> ts_{0};
  std::atomic<bool> request_{false};

  alignas(64) ForkSlot slots_[kCapacity];
};

// Syncs every slot left in `d` (children of groups never waited for), oldest last.
void sync_all(ForkDeque& d) noexcept;

// The deque of the running coroutine (created on first use), or nullptr on a plain
// thread. Never inlined: a coroutine may migrate across any switch (current_worker()).
ForkDeque* current_forks();

// Where, relative to the thread pointer, each thread keeps the running coroutine's deque
// (a static-TLS variable of libweft: the same offset in every thread; set during libweft's
// static initialization, 0 before).
extern const std::ptrdiff_t forks_tls_offset;

// The calling thread's pointer (%fs base, TPIDR_EL0), read by a volatile asm: no read is
// merged with another across a switch after which the coroutine runs on another thread
// (the reason current_worker() is never inlined).
[[gnu::always_inline]] inline char* thread_pointer() noexcept {
  char* tp;
#if defined(__x86_64__)
  asm volatile("mov %%fs:0, %0" : "=r"(tp));
#elif defined(__aarch64__)
  asm volatile("mrs %0, tpidr_el0" : "=r"(tp));
#else
#error "weft: no thread-pointer read for this architecture"
#endif
  return tp;
}

// current_forks() without a call, for the TaskGroup constructor. nullptr when the
// coroutine has no deque yet (current_forks() makes one) or on a plain thread.
[[gnu::always_inline]] inline ForkDeque* running_forks() noexcept {
  char* const tp = thread_pointer();
  // 0 until libweft's initializer ran (a TaskGroup made during another library's static
  // initialization): no variable sits at the thread pointer itself (the TCB does).
  const std::ptrdiff_t off = forks_tls_offset;
  if (off == 0) [[unlikely]]
    return nullptr;
  return *reinterpret_cast<ForkDeque* const*>(tp + off);
}

}  // namespace weft::detail
