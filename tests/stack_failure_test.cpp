// SPDX-License-Identifier: Apache-2.0
// A coroutine whose stack cannot be mapped (RLIMIT_AS, huge stacks) fails like a coroutine
// that threw: its joiner gets the std::system_error, a detached one goes to the
// unhandled-exception handler, and the process and its scheduler live on.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <system_error>
#include <weft/weft.hpp>

#include "test_util.hpp"

namespace {

std::atomic<int> g_unhandled{0};
void count_stack_failures(std::uint64_t, std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::system_error&) {
    g_unhandled.fetch_add(1);
  } catch (...) {
  }
}

// In a child process (the address-space limit must not leak into other tests): 1 GiB
// stacks under a limit that leaves room for the workers' own stacks but not for one
// coroutine stack.
int run_with_unmappable_stacks() {
  weft::Scheduler sched({.workers = 2, .stack_size = std::size_t{1} << 30});
  rlimit lim{};
  getrlimit(RLIMIT_AS, &lim);
  lim.rlim_cur = weft_test::mapped_bytes() + (std::size_t{256} << 20);
  if (setrlimit(RLIMIT_AS, &lim) != 0) return 10;
  weft::set_unhandled_exception_handler(&count_stack_failures);
  int failures = 0;
  for (int i = 0; i < 3; ++i) {
    auto t = sched.spawn([] { return 1; });  // from a plain thread: needs a stack of its own
    try {
      t.join();
    } catch (const std::system_error& e) {
      if (std::string(e.what()).find("stack") != std::string::npos) ++failures;
    }
  }
  if (failures != 3) return 11;
  sched.spawn([] { return 2; }).detach();
  if (!weft_test::spin_until([] { return g_unhandled.load() == 1; })) return 12;
  // Inline runs need no stack: a coroutine joining a fresh child still works... but the
  // parent itself needs one, so it fails too; nothing hangs, nothing dies.
  try {
    sched.run([] { return weft::spawn([] { return 3; }).join(); });
    return 13;
  } catch (const std::system_error&) {
  }
  return 0;
}

TEST(StackFailure, UnmappableStackReachesTheJoiner) {
  SKIP_UNDER_EMULATOR("qemu-user does not apply RLIMIT_AS to the guest");
  weft_test::use_death_test_child_process();
  EXPECT_EXIT(std::exit(run_with_unmappable_stacks()), testing::ExitedWithCode(0), "");
}

}  // namespace
