// SPDX-License-Identifier: Apache-2.0
#include "stack.hpp"

#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <new>
#include <string>
#include <system_error>

#include "sanitizers.hpp"

namespace weft::detail {
namespace {

constexpr std::size_t kSlabStacks = 64;
constexpr std::size_t kCanaryWords = 4;  // 32 bytes at the stack's low end

// Guarded stacks the whole process may still map (two mappings each). Relaxed: a plain
// counter that publishes nothing; the mappings themselves are each allocator's own.
std::atomic<long>& guard_budget() {
  static std::atomic<long> budget = [] {
    long max_maps = 65530;
    std::ifstream in("/proc/sys/vm/max_map_count");
    if (in) in >> max_maps;
    return max_maps / 4 / 2;  // a quarter of the limit, two mappings per guarded stack
  }();
  return budget;
}

// Takes one guarded stack from the budget; false (and the budget untouched) when spent.
bool take_guard() noexcept {
  auto& b = guard_budget();
  long left = b.load(std::memory_order_relaxed);
  while (left > 0) {
    if (b.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void refund_guards(std::size_t n) noexcept {
  if (n) guard_budget().fetch_add(static_cast<long>(n), std::memory_order_relaxed);
}

// The process's canary secret: random, so a fill cannot reproduce it by design or chance.
std::uint64_t canary_secret() noexcept {
  static const std::uint64_t secret = [] {
    std::uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v) || v == 0) {
      // No entropy source: the time and an ASLR'd address still vary between runs.
      v = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
          reinterpret_cast<std::uintptr_t>(&v);
    }
    return v;
  }();
  return secret;
}

// splitmix64's finalizer: every input bit affects every output bit, so neighbouring
// words and neighbouring stacks get unrelated values.
std::uint64_t canary_word(const unsigned char* lo, std::size_t i) noexcept {
  std::uint64_t z = canary_secret() ^ (reinterpret_cast<std::uintptr_t>(lo) + i * 8);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

[[noreturn]] void throw_stack_error(int err, const char* what, std::size_t size) {
  throw std::system_error(err, std::generic_category(),
                          std::string("weft: cannot ") + what + " for a coroutine stack of " +
                              std::to_string(size) + " bytes (weft::Options::stack_size)");
}

void* map_or_throw(std::size_t bytes, std::size_t stack_size) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) {
    throw_stack_error(errno, ("map " + std::to_string(bytes) + " bytes").c_str(), stack_size);
  }
  return p;
}

}  // namespace

long guard_budget_left() noexcept {
  return guard_budget().load(std::memory_order_relaxed);
}

void set_guard_budget(long stacks) noexcept {
  guard_budget().store(stacks, std::memory_order_relaxed);
}

void Stack::write_canary() noexcept {
  auto* w = reinterpret_cast<std::uint64_t*>(lo);
  for (std::size_t i = 0; i < kCanaryWords; ++i) w[i] = canary_word(lo, i);
}

bool Stack::canary_intact() const noexcept {
  if (guarded) return true;
  const auto* w = reinterpret_cast<const std::uint64_t*>(lo);
  std::uint64_t diff = 0;
  for (std::size_t i = 0; i < kCanaryWords; ++i) diff |= w[i] ^ canary_word(lo, i);
  return diff == 0;
}

StackAllocator::StackAllocator(std::size_t usable_size, std::size_t guard_size)
    : size_(usable_size), guard_(guard_size) {}

StackAllocator::~StackAllocator() {
  for (auto [p, n] : mappings_) munmap(p, n);
  refund_guards(guarded_);
}

std::size_t StackAllocator::mapped() const {
  std::lock_guard lock(mu_);
  return mapped_;
}

Stack* StackAllocator::allocate() {
  std::lock_guard lock(mu_);
  if (Stack* s = free_) {
    free_ = s->next;
    return s;
  }
  // Everything that can throw bad_alloc first: past here only mmap and mprotect can
  // fail, and each undoes its own step (budget refunded, mapping unmapped). The new
  // descriptor goes straight into the table, so it is never held only by this frame
  // (in a fork()ed child this thread is gone, and LeakSanitizer would see a leak).
  // Room for one more mapping, grown geometrically: reserve(size() + 1) would reallocate
  // and copy the whole table at every new stack (quadratic in live coroutines).
  if (mappings_.size() == mappings_.capacity()) mappings_.reserve(2 * mappings_.size() + 16);
  Stack& d = *descriptors_.emplace_back(std::make_unique<Stack>());
  try {
    if (take_guard()) {
      map_guarded(d);
    } else {
      carve_from_slab(d);
    }
  } catch (...) {
    descriptors_.pop_back();
    throw;
  }
  ++mapped_;
  return &d;
}

void StackAllocator::release(Stack* s) noexcept {
  std::lock_guard lock(mu_);
  s->next = free_;
  free_ = s;
}

// The Stack descriptors live in a side table (operator new) rather than inside the
// stack, so MADV_DONTNEED may drop every page of an idle stack. Called with one unit of
// the guard budget taken.
void StackAllocator::map_guarded(Stack& d) {
  const std::size_t bytes = size_ + guard_;
  unsigned char* base;
  try {
    base = static_cast<unsigned char*>(map_or_throw(bytes, size_));
  } catch (...) {
    refund_guards(1);
    throw;
  }
  if (mprotect(base, guard_, PROT_NONE) != 0) {
    const int err = errno;
    munmap(base, bytes);
    refund_guards(1);
    throw_stack_error(err, "protect the guard", size_);
  }
  mappings_.emplace_back(base, bytes);  // reserved: cannot throw
  ++guarded_;
  d = Stack{base + guard_, size_, true, guard_, nullptr, nullptr};
}

void StackAllocator::carve_from_slab(Stack& d) {
  if (slab_left_ == 0) {
    const std::size_t bytes = size_ * kSlabStacks;
    slab_next_ = static_cast<unsigned char*>(map_or_throw(bytes, size_));
    mappings_.emplace_back(slab_next_, bytes);  // reserved: cannot throw
    slab_left_ = kSlabStacks;
  }
  d = Stack{slab_next_, size_, false, 0, nullptr, nullptr};
  slab_next_ += size_;
  --slab_left_;
}

namespace {
void drop_tsan_fiber(Stack* s) noexcept {
  tsan_destroy_fiber(s->tsan_fiber);
  s->tsan_fiber = nullptr;
}
}  // namespace

StackCache::~StackCache() {
  for (Stack* s : cached_) {
    drop_tsan_fiber(s);
    alloc_.release(s);
  }
}

Stack* StackCache::get() {
  Stack* s;
  if (!cached_.empty()) {
    s = cached_.back();
    cached_.pop_back();
    publish_size();
  } else {
    s = alloc_.allocate();
  }
  unpoison_stack(s->lo, s->size);
  if (!s->guarded) s->write_canary();
  if (WEFT_TSAN && !s->tsan_fiber) s->tsan_fiber = tsan_create_fiber();
  return s;
}

void StackCache::put(Stack* s) noexcept {
  try {
    cached_.push_back(s);
    publish_size();
  } catch (const std::bad_alloc&) {
    drop_tsan_fiber(s);
    alloc_.release(s);
  }
}

void StackCache::trim() noexcept {
  while (cached_.size() > kHot) {
    Stack* s = cached_.back();
    cached_.pop_back();
    // Before the stack can reach another worker's cache through the allocator: a gauge
    // that still counted it then would make stats() sum it twice.
    publish_size();
    madvise(s->lo, s->size, MADV_DONTNEED);
    drop_tsan_fiber(s);
    alloc_.release(s);
  }
}

}  // namespace weft::detail
