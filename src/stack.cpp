#include "stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <new>
#include <system_error>

#include "sanitizers.hpp"

namespace weft::detail {
namespace {

constexpr std::size_t kSlabStacks = 64;
// The canary of an unguarded stack is its lowest 32 bytes staying zero, as mmap and
// MADV_DONTNEED leave them. Checking reads a zero page; writing a pattern instead would
// dirty the lowest page of every stack and double the memory of a parked coroutine.
constexpr std::size_t kCanaryWords = 4;

// Guarded stacks the whole process may still map (two mappings each).
std::atomic<long>& guard_budget() {
  static std::atomic<long> budget = [] {
    long max_maps = 65530;
    std::ifstream in("/proc/sys/vm/max_map_count");
    if (in) in >> max_maps;
    return max_maps / 4 / 2;  // a quarter of the limit, two mappings per guarded stack
  }();
  return budget;
}

void* map_or_throw(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "weft: stack mmap");
  return p;
}

}  // namespace

bool Stack::canary_intact() const noexcept {
  if (guarded) return true;
  const auto* w = reinterpret_cast<const std::uint64_t*>(lo);
  std::uint64_t any = 0;
  for (std::size_t i = 0; i < kCanaryWords; ++i) any |= w[i];
  return any == 0;
}

StackAllocator::StackAllocator(std::size_t usable_size)
    : size_(usable_size), page_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))) {}

StackAllocator::~StackAllocator() {
  for (auto [p, n] : mappings_) munmap(p, n);
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
  Stack* s = guard_budget().fetch_sub(1, std::memory_order_relaxed) > 0 ? map_guarded()
                                                                        : carve_from_slab();
  ++mapped_;
  return s;
}

void StackAllocator::release(Stack* s) noexcept {
  std::lock_guard lock(mu_);
  s->next = free_;
  free_ = s;
}

// The Stack descriptors live in a side table (operator new) rather than inside the
// stack, so MADV_DONTNEED may drop every page of an idle stack.
Stack* StackAllocator::map_guarded() {
  const std::size_t bytes = size_ + page_;
  auto* base = static_cast<unsigned char*>(map_or_throw(bytes));
  if (mprotect(base, page_, PROT_NONE) != 0) {
    const int err = errno;
    munmap(base, bytes);
    throw std::system_error(err, std::generic_category(), "weft: stack guard mprotect");
  }
  mappings_.emplace_back(base, bytes);
  return descriptors_.emplace_back(new Stack{base + page_, size_, true, nullptr, nullptr}).get();
}

Stack* StackAllocator::carve_from_slab() {
  if (slab_left_ == 0) {
    const std::size_t bytes = size_ * kSlabStacks;
    slab_next_ = static_cast<unsigned char*>(map_or_throw(bytes));
    mappings_.emplace_back(slab_next_, bytes);
    slab_left_ = kSlabStacks;
  }
  Stack* s = descriptors_.emplace_back(new Stack{slab_next_, size_, false, nullptr, nullptr}).get();
  slab_next_ += size_;
  --slab_left_;
  return s;
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
    madvise(s->lo, s->size, MADV_DONTNEED);
    drop_tsan_fiber(s);
    alloc_.release(s);
  }
  publish_size();
}

}  // namespace weft::detail
