// SPDX-License-Identifier: Apache-2.0
// Coroutine stacks: mmap'ed, guarded while the process's mapping budget lasts, pooled.
//
// vm.max_map_count (65530 by default) caps the mappings of a process, and a guard page
// splits a mapping in two, so one guarded mapping per stack stops near 32k stacks. weft
// therefore guards stacks (PROT_NONE guard below, overflow faults) up to a budget of a
// quarter of max_map_count for the whole process, refunded as stacks are unmapped, and
// past it carves stacks from unguarded slabs of kSlabStacks stacks each (one mapping per
// slab), whose overflow is caught after the fact by a canary at the stack's low end,
// checked whenever the coroutine switches out. A million live coroutines thus cost ~16
// thousand guarded mappings plus ~15 thousand slab mappings.
//
// The guard is Options::guard_size, one page by default: a frame larger than the guard
// can jump it and write below it unseen unless the code is compiled with
// -fstack-clash-protection, which makes every prologue probe each page it allocates, so
// the first probe below the stack faults in the guard and is reported
// (tests/overflow_test.cpp). GCC enables it only on request (some distributions' GCC by
// default); clang supports it since 11. A larger guard_size catches frames up to its size
// without the flag, at the cost of address space only.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace weft::detail {

struct Stack {
  unsigned char* lo;  // lowest usable byte
  std::size_t size;   // usable bytes; the context frames start just below lo + size
  bool guarded;
  std::size_t guard;  // bytes of PROT_NONE just below lo; 0 when unguarded
  Stack* next;        // free-list link while pooled
  // ThreadSanitizer's fiber for whatever coroutine runs on this stack, created on first
  // use and kept while the stack stays in a worker's cache: creating one costs ~0.5 ms.
  // Destroyed when the stack leaves the cache (g++'s TSan allows ~8k live fibers).
  void* tsan_fiber;

  void* top() const noexcept { return lo + size; }
  // Unguarded stacks only: the canary in the lowest bytes is a value derived from a
  // process secret and the stack's address, which no zero, constant or pattern fill (nor
  // another stack's canary) reproduces. Written whenever the stack is handed out (after
  // MADV_DONTNEED the page reads as zero again), so it costs one resident page at the low
  // end of every live unguarded stack. Guarded stacks have the guard instead.
  void write_canary() noexcept;
  bool canary_intact() const noexcept;
};

// Guarded stacks the whole process may still map. For tests: reading it, and setting it
// (low, so that the unguarded path is reached without mapping thousands of stacks).
long guard_budget_left() noexcept;
void set_guard_budget(long stacks) noexcept;

// Owns every stack of one scheduler; thread-safe (a mutex, taken only on the slow path).
class StackAllocator {
 public:
  // `guard_size`: bytes of each guarded stack's guard, whole pages.
  StackAllocator(std::size_t usable_size, std::size_t guard_size);
  ~StackAllocator();
  StackAllocator(const StackAllocator&) = delete;
  StackAllocator& operator=(const StackAllocator&) = delete;

  // From the shared free list, or a new mapping. When mmap or mprotect fails, throws
  // std::system_error naming the stack size and leaves everything as it was.
  Stack* allocate();
  void release(Stack* s) noexcept;  // to the shared free list (pages already given back)
  std::size_t mapped() const;       // stacks mapped so far

 private:
  // Map `d`'s stack; on failure throw with nothing mapped and the budget refunded.
  void map_guarded(Stack& d);
  void carve_from_slab(Stack& d);

  const std::size_t size_;   // usable bytes, whole pages
  const std::size_t guard_;  // guard bytes, whole pages
  mutable std::mutex mu_;
  Stack* free_ = nullptr;
  std::vector<std::pair<void*, std::size_t>> mappings_;
  std::vector<std::unique_ptr<Stack>> descriptors_;
  unsigned char* slab_next_ = nullptr;  // unused part of the current slab
  std::size_t slab_left_ = 0;
  std::size_t mapped_ = 0;
  std::size_t guarded_ = 0;  // guarded stacks mapped: refunded to the budget when unmapped
};

// One worker's cache (owner thread only). get/put are O(1) without syscalls; get() writes
// an unguarded stack's canary and gives the stack a TSan fiber under ThreadSanitizer; trim(),
// called when the worker is about to park, gives the touched pages of the stacks beyond
// a small hot set back to the kernel (MADV_DONTNEED, as NtyCo does) and returns them to
// the shared allocator, so an idle scheduler does not sit on memory.
class StackCache {
 public:
  static constexpr std::size_t kHot = 16;

  explicit StackCache(StackAllocator& alloc) : alloc_(alloc) {}
  ~StackCache();
  StackCache(const StackCache&) = delete;
  StackCache& operator=(const StackCache&) = delete;

  Stack* get();
  void put(Stack* s) noexcept;
  void trim() noexcept;
  std::size_t cached() const noexcept { return cached_.size(); }
  // cached() for other threads (Scheduler::stats()): a gauge, exact only at rest. A stack
  // moves between caches only through the allocator's mutex, after its old cache published
  // a gauge without it (trim()). Release/acquire: a reader that sees the new cache count
  // it, then reads the old cache, finds it gone there. (Reading the old cache first can
  // still count it twice while stacks move: no sum of separate gauges is a snapshot.)
  std::size_t pooled() const noexcept { return pooled_.load(std::memory_order_acquire); }

 private:
  void publish_size() noexcept { pooled_.store(cached_.size(), std::memory_order_release); }

  StackAllocator& alloc_;
  std::vector<Stack*> cached_;
  std::atomic<std::size_t> pooled_{0};
};

}  // namespace weft::detail
