// Coroutine stacks: the usable size is really usable, an overflow faults (guard page)
// instead of silently corrupting a neighbour, and stacks are recycled cleanly; weft's
// SIGSEGV handler passes every other fault on to a handler the program had installed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

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
  GTEST_FLAG_SET(death_test_style, "threadsafe");
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
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  weft::Scheduler sched({.workers = 1});
  sched.run([page] { return *static_cast<volatile int*>(page); });
}

TEST(StackDeathTest, OtherFaultsReachTheProgramsOwnHandler) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(fault_with_a_user_handler(), testing::ExitedWithCode(3), "user SIGSEGV handler ran");
}

}  // namespace
