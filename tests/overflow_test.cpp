// SPDX-License-Identifier: Apache-2.0
// A frame larger than the guard page: compiled with -fstack-clash-protection (see
// tests/CMakeLists.txt), the prologue probes every page it allocates, so the first probe
// below the stack lands in the guard page and weft reports the overflow by name. Without
// the flag the frame jumps the single guard page and writes wherever lies below.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <string>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::page_size;
using weft_test::whole_pages;

volatile int g_seed = 7;  // opaque to the optimizer

// A 64 KiB local array, every page of it written, on a 32 KiB stack.
[[gnu::noinline]] int big_frame(int seed) {
  unsigned char buf[64 * 1024];
  for (std::size_t i = 0; i < sizeof buf; i += 512) buf[i] = static_cast<unsigned char>(seed + i);
  asm volatile("" ::"r"(buf) : "memory");
  return buf[static_cast<std::size_t>(seed) * 512 % sizeof buf];
}

void run_a_big_frame_on_a_small_stack() {
  weft::Scheduler sched({.workers = 1, .stack_size = 32 * 1024});
  const int r = sched.run([] { return big_frame(g_seed); });
  std::fprintf(stderr, "returned %d\n", r);
}

TEST(OverflowDeathTest, FrameLargerThanTheGuardPageIsReported) {
  weft_test::use_death_test_child_process();
  EXPECT_DEATH(run_a_big_frame_on_a_small_stack(), "weft: coroutine [0-9]+ overflowed its " +
                                                       std::to_string(whole_pages(32 * 1024)) +
                                                       "-byte stack");
}

}  // namespace
