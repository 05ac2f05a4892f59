// SPDX-License-Identifier: Apache-2.0
// fork() with live schedulers: in the child every Scheduler created before the fork is
// unusable and says so (its worker threads were not copied), destroying one returns, and
// the child's default scheduler is a fresh one. The parent carries on as if nothing
// happened.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

// Runs in the child; returns a bit set of what went wrong (0: all as documented).
int child_checks(std::unique_ptr<weft::Scheduler>& old, weft::Task<int>& sleeper) {
  alarm(20);  // a hang (the defect) becomes a death by SIGALRM, seen by the parent
  int failed = 0;
  try {
    old->spawn([] { return 0; });
    failed |= 1;  // accepted: it would never run
  } catch (const std::logic_error& e) {
    if (!std::strstr(e.what(), "before fork()")) failed |= 2;
    std::fprintf(stderr, "child: %s\n", e.what());
  }
  try {
    sleeper.join();  // its coroutine belongs to threads that do not exist here
    failed |= 32;
  } catch (const std::logic_error& e) {
    if (!std::strstr(e.what(), "before fork()")) failed |= 64;
  }
  // ThreadSanitizer cannot start threads in the child of a multi-threaded process (its
  // thread registry keeps the parent's threads: "dup thread with used id", exit 66), so
  // under TSan the child checks only what needs no new thread.
  if (!weft_test::kUnderTsan) {
    try {
      if (weft::spawn([] { return 42; }).join() != 42) failed |= 4;
      weft::Scheduler fresh({.workers = 2});
      if (fresh.run([] { return 43; }) != 43) failed |= 8;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      failed |= 16;
    }
  }
  old.reset();  // must return: the old scheduler's threads do not exist here
  return failed;
}

TEST(Fork, ChildGetsClearErrorsAndAFreshDefaultScheduler) {
  auto old = std::make_unique<weft::Scheduler>(weft::Options{.workers = 2});
  auto sleeper = old->spawn([] {
    weft::sleep_for(300ms);
    return 1;
  });
  ASSERT_EQ(weft::spawn([] { return 5; }).join(), 5);  // the parent's default scheduler is live
  // Let the workers go idle first: a fork() taken while a worker holds a fresh heap object
  // only in its own frame leaves that object unreachable in the child (the thread is
  // gone), which LeakSanitizer would rightly call a leak of the child's.
  std::this_thread::sleep_for(50ms);
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int failed = child_checks(old, sleeper);
    std::fflush(nullptr);
    // exit(), not _exit(): the exit handler of the child's default scheduler must not
    // touch the parent's.
    std::exit(failed);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status);
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  // The parent's schedulers are untouched.
  EXPECT_EQ(sleeper.join(), 1);
  EXPECT_EQ(old->run([] { return 6; }), 6);
  EXPECT_EQ(weft::spawn([] { return 7; }).join(), 7);
}

}  // namespace
