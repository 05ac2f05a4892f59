// SPDX-License-Identifier: Apache-2.0
// parallel_invoke, parallel_for and parallel_reduce: every index once, order-keeping
// reductions, grains, exceptions, plain threads, and loops whose bodies block.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

TEST(ParallelFor, EveryIndexExactlyOnceAutoAndGrained) {
  const long n = weft_test::scaled(1'000'000L, 100'000L);
  for (unsigned workers : {1u, 2u}) {
    weft::Scheduler s(weft::Options{.workers = workers});
    for (long grain : {0L, 1L, 7L, 1000L}) {
      std::vector<std::uint8_t> seen(n, 0);
      s.run([&] {
        auto body = [&seen](long i) { ++seen[i]; };
        if (grain == 0) {
          weft::parallel_for(0L, n, body);
        } else {
          weft::parallel_for(0L, n, grain, body);
        }
      });
      long wrong = 0;
      for (long i = 0; i < n; ++i) wrong += seen[i] != 1;
      EXPECT_EQ(wrong, 0) << workers << " workers, grain " << grain;
    }
  }
}

TEST(ParallelFor, EmptyAndReversedRangesDoNothingAndBadGrainIsRefused) {
  int calls = 0;
  weft::parallel_for(5, 5, [&](int) { ++calls; });
  weft::parallel_for(5, 1, [&](int) { ++calls; });
  EXPECT_EQ(calls, 0);
  EXPECT_THROW(weft::parallel_for(0, 10, 0, [](int) {}), std::invalid_argument);
  EXPECT_THROW(
      weft::parallel_reduce(
          0, 10, -1, 0, [](int, int, int a) { return a; }, [](int a, int b) { return a + b; }),
      std::invalid_argument);
}

TEST(ParallelFor, FromAPlainThreadOnTheDefaultScheduler) {
  std::atomic<long> sum{0};
  std::atomic<int> outside{0};
  weft::parallel_for(0L, 10'000L, [&](long i) {
    sum.fetch_add(i, std::memory_order_relaxed);
    if (!weft::in_coroutine()) outside.fetch_add(1);
  });
  EXPECT_EQ(sum.load(), 10'000L * 9'999L / 2);
  EXPECT_EQ(outside.load(), 0);
}

TEST(ParallelFor, AnExceptionStopsTheLoopAndReachesTheCaller) {
  weft::Scheduler s(weft::Options{.workers = 2});
  std::atomic<long> ran{0};
  EXPECT_THROW(s.run([&] {
    weft::parallel_for(0L, 1'000'000L, [&](long i) {
      ran.fetch_add(1, std::memory_order_relaxed);
      if (i == 1000) throw std::runtime_error("at 1000");
    });
  }),
               std::runtime_error);
  EXPECT_LT(ran.load(), 1'000'000L);  // the chunks not yet started were skipped
}

TEST(ParallelFor, BodiesThatBlock) {
  weft::Scheduler s(weft::Options{.workers = 2});
  weft::Mutex mu;
  long sum = 0;
  s.run([&] {
    weft::parallel_for(0L, 400L, [&](long i) {
      if (i % 40 == 0) weft::sleep_for(200us);
      std::lock_guard lock(mu);
      sum += i;
    });
  });
  EXPECT_EQ(sum, 400L * 399L / 2);
}

TEST(ParallelReduce, SumsAndKeepsTheOrderOfANonCommutativeCombine) {
  for (unsigned workers : {1u, 2u}) {
    weft::Scheduler s(weft::Options{.workers = workers});
    const long n = weft_test::scaled(2'000'000L, 200'000L);
    const long sum = s.run([&] {
      return weft::parallel_reduce(
          0L, n, 0L,
          [](long lo, long hi, long acc) {
            for (long i = lo; i < hi; ++i) acc += i;
            return acc;
          },
          [](long a, long b) { return a + b; });
    });
    EXPECT_EQ(sum, n * (n - 1) / 2) << workers << " workers";
    // String concatenation is associative but not commutative: the order must survive.
    const std::string digits = s.run([] {
      return weft::parallel_reduce(
          0, 2000, 3, std::string(),
          [](int lo, int hi, std::string acc) {
            for (int i = lo; i < hi; ++i) acc += static_cast<char>('0' + i % 10);
            return acc;
          },
          [](std::string a, const std::string& b) { return a + b; });
    });
    std::string expected;
    for (int i = 0; i < 2000; ++i) expected += static_cast<char>('0' + i % 10);
    EXPECT_EQ(digits, expected) << workers << " workers";
  }
}

TEST(ParallelInvoke, RunsEveryFunctionAndRethrows) {
  weft::Scheduler s(weft::Options{.workers = 2});
  s.run([] {
    int a = 0, b = 0, c = 0;
    weft::parallel_invoke([&] { a = 1; }, [&] { b = 2; }, [&] { c = 3; });
    EXPECT_EQ(a + b + c, 6);
    int d = 0;
    EXPECT_THROW(weft::parallel_invoke([&] { d = 1; }, [] { throw std::logic_error("g"); }),
                 std::logic_error);
    EXPECT_LE(d, 1);  // skipped if the exception came first: it cancels the rest
  });
  int x = 0, y = 0;
  weft::parallel_invoke([&] { x = 1; }, [&] { y = 1; });  // a plain thread
  EXPECT_EQ(x + y, 2);
}

}  // namespace
