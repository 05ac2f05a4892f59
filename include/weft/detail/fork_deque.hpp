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
//    packed word ts = (tail, split). A thief that finds nothing shared asks for more
//    (limit_ = 0), and the owner's next push shares half of its private slots.
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
#include <new>

#include "weft/detail/coroutine.hpp"
#include "weft/detail/static_tls.hpp"

namespace weft::detail {

struct GroupState;
struct ForkSlot;

// Runs the slot's task unless its group is cancelled, records an exception in the group,
// and destroys the captured state: the slot is free to reuse afterwards.
using ForkRun = void (*)(ForkSlot*) noexcept;

inline constexpr std::size_t kForkSlotStorage = 40;

struct alignas(64) ForkSlot {
  using DoneWord = std::atomic<std::uintptr_t>;

  ForkRun run;
  GroupState* group;
  // The completion word, used only once the slot was stolen: 0, the waiting owner, or
  // kJoinDone. Made (0) when the owner shares the slot, not by every push: most slots
  // are never shared, and a push then writes only what it fills.
  alignas(DoneWord) unsigned char done_word[sizeof(DoneWord)];
  alignas(8) unsigned char storage[kForkSlotStorage];

  DoneWord& done() noexcept { return *std::launder(reinterpret_cast<DoneWord*>(done_word)); }
  void make_done_word() noexcept { ::new (static_cast<void*>(done_word)) DoneWord(0); }
};
static_assert(sizeof(ForkSlot) == 64);

class ForkDeque {
 public:
  // 64 KiB of slots. A group that holds more children than this runs the extra ones at
  // once (a valid schedule): by then thieves have plenty to take.
  static constexpr std::uint32_t kCapacity = 1024;

  // ---- owner (the coroutine that the deque belongs to) ----

  // True when the caller is the owner coroutine, or a child it runs inline (the same
  // coroutine, as far as its deque goes): the deque this thread runs (running_forks())
  // is this one. Any other coroutine runs with its own deque, a plain thread or a
  // worker's root context with none. One thread-local load and a compare, no call:
  // spawn() and wait() ask this on every fork-join step.
  [[gnu::always_inline]] bool owned_by_caller() const noexcept;

  // The slot a push fills, made anew (its lifetime begins; nothing is written): the
  // caller fills it. There is always one: a push that fills the last slot makes commit_push()
  // return true, and the caller syncs the newest child at once. Slots exist only from
  // their first push on, so a new deque costs the pages its pushes reach, not 64 KiB of
  // page faults (a stolen child that forks often needs a new deque).
  ForkSlot* push_slot() noexcept { return ::new (static_cast<void*>(top_)) ForkSlot; }
  // Makes the filled slot part of the deque: plain stores and one compare with `limit_`,
  // which is the end of the slots unless a thief asked for more or every shared slot was
  // taken (then it is 0, and the new slot is shared). True when no slot is left for the
  // next push: the caller then syncs the newest child (running a child early is always
  // a valid fork-join schedule).
  [[gnu::always_inline]] bool commit_push() noexcept {
    ++top_;
    if (reinterpret_cast<std::uintptr_t>(top_) >= limit_.load(std::memory_order_relaxed))
        [[unlikely]]
      return after_push();
    return false;
  }
  // The newest slot if it is private (it is then popped), else nullptr: sync_one().
  ForkSlot* pop_private() noexcept { return top_ > split_ ? --top_ : nullptr; }
  // When pop_private() found none: the newest slot, shared or stolen.
  ForkSlot* newest() noexcept { return top_ - 1; }
  // Takes the newest slot back from the thieves and pops it (true), or finds it stolen
  // (false: the caller waits until its done word says kJoinDone, then pop_stolen()).
  bool take_back() noexcept;
  void pop_stolen() noexcept { --top_; }
  bool empty() const noexcept { return top_ == slots(); }
  // True when thieves took every child (or there is none): nothing would be left behind
  // if the owner suspended. Owner only; a relaxed look at tail (a stale one errs safe).
  bool all_taken() const noexcept {
    return all_stolen_ || tail_of(ts_.load(std::memory_order_relaxed)) >= index(top_);
  }
  // True when no shared child waits for a thief: the moment for lazy binary splitting
  // to offer more work. Owner only, as all_taken().
  bool nothing_shared() const noexcept {
    return all_stolen_ || tail_of(ts_.load(std::memory_order_relaxed)) >= index(split_);
  }
  // Shares every private child at once (a CAS, and a wake-up for an idle worker): lazy
  // splitting offers its new half only when thieves have taken everything else.
  void share_now() noexcept {
    if (split_ != top_ && !all_stolen_) {
      grow_to(index(top_));
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
  // A new deque writes its header only: no slot exists until a push makes it.
  ForkDeque() noexcept : top_(slots()), split_(slots()), all_stolen_(true), ts_(0), limit_(0) {}
  // A deque that is all zero, for plain_thread_forks: constant-initialized (it exists
  // before any static initializer runs) and in .bss rather than 64 KiB of .data. No
  // thread runs it, so owned_by_caller() is false, the only question ever asked of it.
  struct Inert {};
  constexpr explicit ForkDeque(Inert) noexcept
      : top_(nullptr), split_(nullptr), all_stolen_(false), ts_(0), limit_(0), slot_bytes_{} {}
  void reset() noexcept;
  std::atomic<bool> listed{false};  // in the stranded list (changed under its mutex)

 private:
  static std::uint32_t tail_of(std::uint64_t ts) noexcept { return static_cast<std::uint32_t>(ts); }
  static std::uint32_t split_of(std::uint64_t ts) noexcept {
    return static_cast<std::uint32_t>(ts >> 32);
  }
  // The slot array: slot_bytes_ holds a ForkSlot wherever a push made one.
  ForkSlot* slots() noexcept { return reinterpret_cast<ForkSlot*>(slot_bytes_); }
  const ForkSlot* slots() const noexcept { return reinterpret_cast<const ForkSlot*>(slot_bytes_); }
  std::uint32_t index(const ForkSlot* s) const noexcept {
    return static_cast<std::uint32_t>(s - slots());
  }
  static std::uint64_t pack(std::uint32_t tail, std::uint32_t split) noexcept {
    return (std::uint64_t{split} << 32) | tail;
  }
  // commit_push() met the limit: shares if asked to, and tells whether the deque is full.
  bool after_push() noexcept;
  void share_after_push() noexcept;
  std::uintptr_t end_address() const noexcept {
    return reinterpret_cast<std::uintptr_t>(slots() + kCapacity);
  }
  // Asks the next push to share (a thief, or the owner that found everything taken).
  void request_share() noexcept {
    if (limit_.load(std::memory_order_relaxed) != 0) limit_.store(0, std::memory_order_relaxed);
  }
  static void announce_shared() noexcept;
  // Moves the split to `split` (> the current one), publishing the slots below it.
  void grow_to(std::uint32_t split) noexcept;

  // Owner-private: the next free slot and the first private one (pointers, not indexes:
  // push and pop then need no address arithmetic). Invariant: tail <= split_ <= top_,
  // except while all_stolen_: then every slot below top_ was stolen (tail >= top_), and
  // the next push starts afresh.
  ForkSlot* top_;
  ForkSlot* split_;
  bool all_stolen_;  // an empty deque too: its first child is shared at once

  // Written by thieves (and by the owner on the rare paths above). limit_: the end of
  // the slots (only a full deque reaches it), or 0 when a thief found nothing shared or
  // (set by the owner with all_stolen_) nothing is left to take; either way the next
  // push shares. A request overwritten by the owner's reset is asked again: a thief that
  // finds nothing shared asks on every look.
  alignas(64) std::atomic<std::uint64_t> ts_;
  std::atomic<std::uintptr_t> limit_;

  alignas(64) unsigned char slot_bytes_[kCapacity * sizeof(ForkSlot)];
};

// Syncs every slot left in `d` (children of groups never waited for), oldest last.
void sync_all(ForkDeque& d) noexcept;

// The deque of every group that a plain thread (or a worker's root context) owns: always
// empty and run by no thread, so owned_by_caller() is false there and every spawn takes
// the foreign path. Spares spawn() and wait() a null test.
extern constinit ForkDeque plain_thread_forks;

// The deque of the running coroutine (created on first use), or &plain_thread_forks.
// Never inlined: it may create the deque, which is rare, and a coroutine may migrate
// across any switch (static_tls.hpp).
ForkDeque* current_forks();

// current_forks() without a call, for the TaskGroup constructor and the owner test: the
// running coroutine's deque, nullptr when it has none yet (current_forks() makes one) or
// on a plain thread. libweft keeps it in the static-TLS variable weft_running_forks
// (src/worker.cpp), read as static_tls.hpp explains. No "memory" clobber: the read need
// only be fresh, and the compiler may keep the slot's stores on either side of it.
[[gnu::always_inline]] inline ForkDeque* running_forks() noexcept {
  ForkDeque* d;
  WEFT_DETAIL_LOAD_STATIC_TLS(d, weft_running_forks);
  return d;
}

inline bool ForkDeque::owned_by_caller() const noexcept {
  return running_forks() == this;
}

}  // namespace weft::detail
