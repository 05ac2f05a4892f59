// SPDX-License-Identifier: Apache-2.0
// Under ThreadSanitizer, a race report on an exploration's thread fails the iteration as
// "tsan" (weft::check's __tsan_on_report). CTest runs this binary with halt_on_error=0 and
// exitcode=0 appended to TSAN_OPTIONS (tests/CMakeLists.txt): the race below is planted.
// Without TSan nothing reports it, and the iteration passes.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "test_util.hpp"
#include "weft/check.hpp"

namespace {

TEST(CheckTsan, ReportOnTheExplorationsThreadFailsTheIteration) {
  weft::check::Options o;
  o.iterations = 1;
  o.print = false;
  static int shared = 0;  // static: a race the optimizer keeps (it cannot see the thread)
  const weft::check::Result r = weft::check::explore(
      [] {
        std::atomic<bool> written{false};
        std::thread t([&] {
          shared = 1;
          written.store(true, std::memory_order_relaxed);  // relaxed: no happens-before
        });
        while (!written.load(std::memory_order_relaxed)) std::this_thread::yield();
        const int seen = shared;  // the racing read, on the exploration's thread
        t.join();
        EXPECT_EQ(seen, 1);
      },
      o);
  if (weft_test::kUnderTsan) {
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.kind, "tsan") << r.report;
  } else {
    EXPECT_TRUE(r.ok) << r.report;
  }
}

}  // namespace
