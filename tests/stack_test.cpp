// SPDX-License-Identifier: Apache-2.0
// Coroutine stacks: the usable size is really usable, an overflow faults (guard page)
// instead of silently corrupting a neighbour, and stacks are recycled cleanly; weft's
// SIGSEGV handler passes every other fault on to a handler the program had installed.
#include "stack.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"
#include "worker.hpp"

namespace {

using weft_test::page_size;
using weft_test::whole_pages;

using weft_test::scaled;

// Uses about `depth` KiB of stack; noinline and a live array per frame keep every frame.
[[gnu::noinline]] std::uint64_t use_stack(int depth) {
  volatile unsigned char frame[1024];
  for (std::size_t i = 0; i < sizeof(frame); i += 64)
    frame[i] = static_cast<unsigned char>(depth + static_cast<int>(i));
  if (depth <= 0) return frame[0];
  const std::uint64_t below = use_stack(depth - 1);
  return below + frame[64];
}

TEST(Stack, UsableSizeIsUsable) {
  // 256 KiB stacks; use about 160 KiB of one (sanitizers enlarge frames: use less).
  weft::Scheduler sched({.workers = 1, .stack_size = 256 * 1024});
  constexpr int kDepth = scaled(160, 48);
  const std::uint64_t v = sched.run(use_stack, kDepth);
  EXPECT_NE(v, 0u);
  // Many in a row, reusing pooled stacks, and several alive at once.
  std::vector<weft::Task<std::uint64_t>> ts;
  for (int i = 0; i < 32; ++i)
    ts.push_back(sched.spawn([] {
      weft::yield();
      return use_stack(kDepth);
    }));
  for (auto& t : ts) EXPECT_EQ(t.join(), v);
}

TEST(Stack, StacksAreIndependent) {
  // Coroutines alive at once each write a pattern over a large local buffer, suspend,
  // and check it is intact: no two share (or overlap) a stack.
  weft::Scheduler sched({.workers = 2, .stack_size = 64 * 1024});
  constexpr int kN = scaled(200, 50);
  std::vector<weft::Task<int>> ts;
  for (int i = 0; i < kN; ++i)
    ts.push_back(sched.spawn([i] {
      unsigned char buf[16 * 1024];
      std::memset(buf, i & 0xFF, sizeof(buf));
      for (int k = 0; k < 5; ++k) weft::yield();
      int bad = 0;
      for (unsigned char b : buf) bad += b != static_cast<unsigned char>(i & 0xFF);
      asm volatile("" ::"r"(buf) : "memory");
      return bad;
    }));
  int bad = 0;
  for (auto& t : ts) bad += t.join();
  EXPECT_EQ(bad, 0);
}

volatile std::uint64_t g_never = ~std::uint64_t{0};  // opaque to the optimizer

[[gnu::noinline]] std::uint64_t recurse_forever(std::uint64_t n) {
  if (n == g_never) return 0;
  volatile unsigned char frame[512];
  frame[0] = static_cast<unsigned char>(n);
  frame[511] = static_cast<unsigned char>(n >> 8);
  const std::uint64_t r = recurse_forever(n + 1);  // not a tail call: the frame is used after
  return r + frame[0] + frame[511];
}

void overflow_a_coroutine_stack() {
  weft::Scheduler sched({.workers = 1, .stack_size = 16 * 1024});
  const std::uint64_t r = sched.run(recurse_forever, std::uint64_t{1});
  std::fprintf(stderr, "returned %llu\n", static_cast<unsigned long long>(r));
}

TEST(StackDeathTest, OverflowFaultsInsteadOfCorrupting) {
  weft_test::use_death_test_child_process();
  // The guard page faults and the handler names the coroutine and its stack size.
  EXPECT_DEATH(overflow_a_coroutine_stack(),
               "weft: coroutine [0-9]+ overflowed its 16384-byte stack");
}

void user_segv_handler(int) {
  static const char msg[] = "user SIGSEGV handler ran\n";
  [[maybe_unused]] const ssize_t n = write(2, msg, sizeof msg - 1);
  _exit(3);
}

// A fault that is not a stack overflow, in a coroutine, with the program's own handler
// installed before weft's: weft's handler hands it on.
void fault_with_a_user_handler() {
  struct sigaction sa {};
  sa.sa_handler = &user_segv_handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  void* page = mmap(nullptr, page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  weft::Scheduler sched({.workers = 1});
  sched.run([page] { return *static_cast<volatile int*>(page); });
}

TEST(StackDeathTest, OtherFaultsReachTheProgramsOwnHandler) {
  weft_test::use_death_test_child_process();
  EXPECT_EXIT(fault_with_a_user_handler(), testing::ExitedWithCode(3), "user SIGSEGV handler ran");
}

// A 64 KiB local array, every page of it written from the lowest address up, on a
// 32 KiB stack. This file is built without -fstack-clash-protection, so the first write
// lands 32 KiB or more below the stack: past a one-page guard, inside a 128 KiB one.
[[gnu::noinline]] int big_frame(int seed) {
  unsigned char buf[64 * 1024];
  for (std::size_t i = 0; i < sizeof buf; i += 512) buf[i] = static_cast<unsigned char>(seed + i);
  asm volatile("" ::"r"(buf) : "memory");
  return buf[static_cast<std::size_t>(seed) * 512 % sizeof buf];
}

volatile int g_seed = 3;  // opaque to the optimizer

void big_frame_with_a_large_guard() {
  weft::Scheduler sched({.workers = 1, .stack_size = 32 * 1024, .guard_size = 128 * 1024});
  const int r = sched.run([] { return big_frame(g_seed); });
  std::fprintf(stderr, "returned %d\n", r);
}

TEST(StackDeathTest, GuardSizeLargerThanTheFrameCatchesIt) {
  weft_test::use_death_test_child_process();
  EXPECT_DEATH(big_frame_with_a_large_guard(), "weft: coroutine [0-9]+ overflowed its " +
                                                   std::to_string(whole_pages(32 * 1024)) +
                                                   "-byte stack");
}

// ---- the guard budget and the canary of unguarded stacks (StackAllocator, StackCache) ----

using weft::detail::Stack;
using weft::detail::StackAllocator;
using weft::detail::StackCache;

// Allocates one-page stacks from `a` until one comes back unguarded: the process's guard
// budget is spent. Returns how many guarded stacks it took (bounded: the budget is a
// quarter of vm.max_map_count, halved). Sanitizers intercept every mmap and make the
// ~8k of the real budget take tens of seconds: there the budget is lowered first (the
// accounting under test is the same).
std::size_t spend_guard_budget(StackAllocator& a) {
  if (weft_test::kUnderSanitizer && weft::detail::guard_budget_left() > 256) {
    weft::detail::set_guard_budget(256);
  }
  std::size_t guarded = 0;
  while (a.allocate()->guarded) {
    if (++guarded > 1'000'000) break;
  }
  return guarded;
}

TEST(StackAllocator, GuardBudgetIsRefundedWhenStacksAreUnmapped) {
  std::size_t budget = 0;
  {
    StackAllocator first(page_size(), page_size());
    budget = spend_guard_budget(first);
    ASSERT_GT(budget, 0u);
    ASSERT_LE(budget, 1'000'000u);
  }  // unmaps every stack of `first`
  // A later allocator gets the whole budget back: each of its first `budget` stacks is
  // guarded, and the one after is not.
  StackAllocator second(page_size(), page_size());
  for (std::size_t i = 0; i < budget; ++i) ASSERT_TRUE(second.allocate()->guarded) << "stack " << i;
  EXPECT_FALSE(second.allocate()->guarded);
}

// After an earlier scheduler-sized allocator spent the budget and went away, a new
// scheduler's overflow is still caught by its guard page and reported by name.
void overflow_after_the_budget_was_spent_and_returned() {
  {
    StackAllocator hog(page_size(), page_size());
    spend_guard_budget(hog);
  }
  overflow_a_coroutine_stack();
}

TEST(StackDeathTest, OverflowIsReportedAfterAnEarlierAllocatorReturnedTheBudget) {
  weft_test::use_death_test_child_process();
  EXPECT_DEATH(overflow_after_the_budget_was_spent_and_returned(),
               "weft: coroutine [0-9]+ overflowed its 16384-byte stack");
}

TEST(StackCanary, ZeroOnesPatternAndCopiedFillsAreAllDetected) {
  StackAllocator hog(page_size(), page_size());
  spend_guard_budget(hog);  // kept alive: the stacks below are unguarded
  StackAllocator alloc(16 * 1024, page_size());
  StackCache cache(alloc);
  Stack* s = cache.get();
  Stack* neighbour = cache.get();
  ASSERT_FALSE(s->guarded);
  ASSERT_FALSE(neighbour->guarded);
  EXPECT_TRUE(s->canary_intact());
  EXPECT_TRUE(neighbour->canary_intact());

  auto detected = [&](auto&& fill) {
    fill(s->lo, std::size_t{256});
    const bool caught = !s->canary_intact();
    cache.put(s);
    s = cache.get();  // the same stack again, its canary rewritten
    EXPECT_TRUE(s->canary_intact());
    return caught;
  };
  EXPECT_TRUE(detected([](unsigned char* p, std::size_t n) { std::memset(p, 0, n); }));
  EXPECT_TRUE(detected([](unsigned char* p, std::size_t n) { std::memset(p, 0xFF, n); }));
  EXPECT_TRUE(detected([](unsigned char* p, std::size_t n) { std::memset(p, 0xA5, n); }));
  EXPECT_TRUE(detected([](unsigned char* p, std::size_t n) {
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
      const std::uint64_t w = 0x0123456789ABCDEFull;
      std::memcpy(p + i, &w, 8);
    }
  }));
  // Another stack's canary is no good here either (the value depends on the address).
  EXPECT_TRUE(detected([&](unsigned char* p, std::size_t n) { std::memcpy(p, neighbour->lo, n); }));
  cache.put(neighbour);
  cache.put(s);
}

TEST(StackCanary, IsRewrittenAfterThePagesWereGivenBack) {
  StackAllocator hog(page_size(), page_size());
  spend_guard_budget(hog);
  StackAllocator alloc(16 * 1024, page_size());
  StackCache cache(alloc);
  std::vector<Stack*> taken;
  for (std::size_t i = 0; i < StackCache::kHot + 8; ++i) taken.push_back(cache.get());
  for (Stack* s : taken) cache.put(s);
  cache.trim();  // MADV_DONTNEED: the pages beyond the hot set read as zero again
  taken.clear();
  for (std::size_t i = 0; i < StackCache::kHot + 8; ++i) {
    taken.push_back(cache.get());
    ASSERT_FALSE(taken.back()->guarded);
    EXPECT_TRUE(taken.back()->canary_intact()) << "stack " << i;
  }
  for (Stack* s : taken) cache.put(s);
}

// StackCache::pooled() is the gauge Scheduler::stats() sums over the workers. trim()
// hands stacks to the shared allocator one at a time (a madvise each), and another
// worker may take one from there and pool it while the trim goes on: were the gauge
// published only when the trim ends, a snapshot would count that stack twice (more stacks
// pooled than mapped: Stats.StacksArePooledAndMapped, about 3 runs in 100 under load).
// Each madvise below sees the cache as the trim left it so far.
std::atomic<const StackCache*> trim_under_watch{nullptr};
std::atomic<int> trim_releases{0}, gauge_counting_released{0};

}  // namespace

// Every madvise of this test binary (libweft's trim() is the only caller) comes here.
extern "C" int madvise(void* addr, std::size_t len, int advice) noexcept {
  if (const StackCache* c = trim_under_watch.load(std::memory_order_relaxed)) {
    trim_releases.fetch_add(1, std::memory_order_relaxed);
    if (c->pooled() > c->cached()) gauge_counting_released.fetch_add(1, std::memory_order_relaxed);
  }
  return static_cast<int>(syscall(SYS_madvise, addr, len, advice));
}

namespace {

TEST(StackCache, TheGaugeNeverCountsAStackTheTrimAlreadyTookOut) {
  StackAllocator alloc(16 * 1024, page_size());
  StackCache cache(alloc);
  constexpr std::size_t kExtra = 8;
  std::vector<Stack*> taken;
  for (std::size_t i = 0; i < StackCache::kHot + kExtra; ++i) taken.push_back(cache.get());
  for (Stack* s : taken) cache.put(s);
  EXPECT_EQ(cache.pooled(), StackCache::kHot + kExtra);
  trim_under_watch.store(&cache);
  cache.trim();
  trim_under_watch.store(nullptr);
  EXPECT_EQ(trim_releases.load(), static_cast<int>(kExtra));
  EXPECT_EQ(gauge_counting_released.load(), 0)
      << "the gauge still counted stacks that were on their way to the allocator";
  EXPECT_EQ(cache.pooled(), StackCache::kHot);
}

// A coroutine on an unguarded stack zeroes the low end of its own stack (what an
// overflow into a zero-filled frame does): weft reports it at its next switch.
void zero_the_low_end_of_an_unguarded_stack() {
  StackAllocator hog(page_size(), page_size());
  spend_guard_budget(hog);
  weft::Scheduler sched({.workers = 1, .stack_size = 64 * 1024});
  const int r = sched.run([] {
    const Stack* s = weft::detail::current_worker()->current()->stack;
    if (s->guarded) return -1;
    std::memset(s->lo, 0, 256);
    weft::yield();
    return 1;
  });
  std::fprintf(stderr, "returned %d\n", r);
}

TEST(StackDeathTest, ZeroFillOverflowOfAnUnguardedStackIsReported) {
  weft_test::use_death_test_child_process();
  EXPECT_DEATH(zero_the_low_end_of_an_unguarded_stack(),
               "weft: coroutine [0-9]+ overflowed its 65536-byte stack");
}

// ---- a failed mapping leaves nothing behind and says which stack size failed ----

// In a child process: with the address space capped a little above what is in use, a
// 1 GiB stack cannot be mapped. The allocator throws std::system_error naming the size,
// maps nothing, refunds the guard budget, and serves smaller stacks once the cap is lifted.
void map_a_stack_under_rlimit_as() {
  const std::size_t in_use = weft_test::mapped_bytes();
  if (in_use == 0) {
    std::fputs("cannot read VmSize\n", stderr);
    std::_Exit(2);
  }
  rlimit old{};
  getrlimit(RLIMIT_AS, &old);
  rlimit capped = old;
  capped.rlim_cur = in_use + (std::size_t{64} << 20);
  if (setrlimit(RLIMIT_AS, &capped) != 0) std::_Exit(3);
  const long budget = weft::detail::guard_budget_left();
  StackAllocator alloc(std::size_t{1} << 30, page_size());
  bool threw = false;
  try {
    alloc.allocate();
  } catch (const std::system_error& e) {
    threw = true;
    std::fprintf(stderr, "caught: %s\n", e.what());
    if (!std::strstr(e.what(), "1073741824")) std::_Exit(4);
  }
  if (!threw) std::_Exit(5);
  if (alloc.mapped() != 0) std::_Exit(6);
  if (weft::detail::guard_budget_left() != budget) std::_Exit(8);  // refunded
  setrlimit(RLIMIT_AS, &old);
  StackAllocator small(page_size(), page_size());
  if (!small.allocate()->guarded) std::_Exit(7);
  std::exit(0);
}

TEST(StackDeathTest, FailedMappingThrowsNamingTheSizeAndLeavesNoHalfState) {
  SKIP_UNDER_EMULATOR("qemu-user does not apply RLIMIT_AS to the guest");
  weft_test::use_death_test_child_process();
  EXPECT_EXIT(map_a_stack_under_rlimit_as(), testing::ExitedWithCode(0), "caught: .*1073741824");
}

}  // namespace
