// SPDX-License-Identifier: Apache-2.0
// Task<T> semantics: values, exceptions, void, move-only handles, decay-copied and
// move-only arguments/results, and every misuse that must throw std::logic_error.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::Watchdog;

struct CustomError : std::runtime_error {
  explicit CustomError(int c) : std::runtime_error("custom error"), code(c) {}
  int code;
};

int add(int a, int b) {
  return a + b;
}

TEST(Task, ReturnsValueToPlainThread) {
  weft::Scheduler sched({.workers = 2});
  auto t = sched.spawn([] { return 42; });
  EXPECT_TRUE(t.valid());
  EXPECT_EQ(t.join(), 42);
  EXPECT_FALSE(t.valid());
  EXPECT_EQ(sched.spawn(add, 2, 3).join(), 5);
  EXPECT_EQ(sched.run(add, 40, 2), 42);
  EXPECT_EQ(sched.run([](const std::string& s) { return s + "!"; }, std::string("hi")), "hi!");
}

TEST(Task, RethrowsExceptionToPlainThread) {
  weft::Scheduler sched({.workers = 2});
  auto t = sched.spawn([]() -> int { throw CustomError(7); });
  try {
    t.join();
    FAIL() << "join() did not rethrow";
  } catch (const CustomError& e) {
    EXPECT_EQ(e.code, 7);
  }
  EXPECT_FALSE(t.valid());
  EXPECT_THROW(sched.run([] { throw std::out_of_range("x"); }), std::out_of_range);
}

TEST(Task, VoidTask) {
  weft::Scheduler sched({.workers = 2});
  std::atomic<int> hits{0};
  weft::Task<void> t = sched.spawn([&] { hits.fetch_add(1); });
  t.join();
  EXPECT_EQ(hits.load(), 1);
  static_assert(std::is_same_v<decltype(sched.spawn([] {})), weft::Task<void>>);
  static_assert(std::is_same_v<decltype(sched.spawn([] { return 1; })), weft::Task<int>>);
  EXPECT_THROW(sched.spawn([] { throw CustomError(1); }).join(), CustomError);
  sched.run([&] { hits.fetch_add(1); });
  EXPECT_EQ(hits.load(), 2);
}

TEST(Task, ValuesAndExceptionsBetweenCoroutines) {
  weft::Scheduler sched({.workers = 2});
  int got = sched.run([] {
    auto a = weft::spawn([] { return 20; });
    auto b = weft::spawn([](int x) { return x + 1; }, 21);
    auto c = weft::spawn([]() -> int { throw CustomError(3); });
    auto v = weft::spawn([] {});
    int code = 0;
    try {
      c.join();
    } catch (const CustomError& e) {
      code = e.code;
    }
    v.join();
    return a.join() + b.join() + code - 3;
  });
  EXPECT_EQ(got, 20 + 22 + 3 - 3);
}

TEST(Task, JoinedAcrossSeveralPlainThreads) {
  Watchdog dog("JoinedAcrossSeveralPlainThreads");
  weft::Scheduler sched({.workers = 2});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::vector<weft::Task<int>>> tasks(kThreads);
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; ++i)
      tasks[t].push_back(sched.spawn(
          [](int v) {
            if (v % 3 == 0) weft::yield();
            if (v % 7 == 0) throw CustomError(v);
            return v * 2;
          },
          t * kPerThread + i));
  std::vector<long> sums(kThreads, 0);
  std::vector<int> errors(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (auto& task : tasks[t]) {
        try {
          sums[t] += task.join();
        } catch (const CustomError& e) {
          if (e.code % 7 == 0) ++errors[t];
        }
      }
    });
  for (auto& th : threads) th.join();
  long sum = 0, expected = 0;
  int nerr = 0, expected_err = 0;
  for (int t = 0; t < kThreads; ++t) {
    sum += sums[t];
    nerr += errors[t];
  }
  for (int v = 0; v < kThreads * kPerThread; ++v) {
    if (v % 7 == 0)
      ++expected_err;
    else
      expected += v * 2;
  }
  EXPECT_EQ(sum, expected);
  EXPECT_EQ(nerr, expected_err);
}

TEST(Task, MoveSemantics) {
  weft::Scheduler sched({.workers = 2});
  static_assert(!std::is_copy_constructible_v<weft::Task<int>>);
  static_assert(!std::is_copy_assignable_v<weft::Task<int>>);
  static_assert(std::is_nothrow_move_constructible_v<weft::Task<int>>);
  static_assert(std::is_nothrow_move_assignable_v<weft::Task<int>>);

  weft::Task<int> empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_FALSE(empty.done());
  EXPECT_EQ(empty.id(), 0u);

  auto a = sched.spawn([] { return 1; });
  const std::uint64_t id = a.id();
  EXPECT_NE(id, 0u);
  weft::Task<int> b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.id(), 0u);    // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(b.valid());
  EXPECT_EQ(b.id(), id);

  weft::Task<int> c;
  c = std::move(b);
  EXPECT_FALSE(b.valid());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.id(), id);
  EXPECT_EQ(c.join(), 1);

  // Move-assigning over a live handle detaches what it held; the coroutine still runs.
  std::atomic<int> ran{0};
  auto d = sched.spawn([&] {
    ran.fetch_add(1);
    return 2;
  });
  d = sched.spawn([] { return 3; });
  EXPECT_EQ(d.join(), 3);
  ASSERT_TRUE(weft_test::spin_until([&] { return ran.load() == 1; }));

  // Self-move-assignment leaves the handle usable.
  auto e = sched.spawn([] { return 4; });
  auto& alias = e;
  e = std::move(alias);
  EXPECT_TRUE(e.valid());
  EXPECT_EQ(e.join(), 4);

  std::vector<weft::Task<int>> v;
  for (int i = 0; i < 100; ++i)
    v.push_back(sched.spawn([i] { return i; }));  // reallocations move handles
  int sum = 0;
  for (auto& t : v) sum += t.join();
  EXPECT_EQ(sum, 4950);
}

TEST(Task, DoneAndIdentity) {
  weft::Scheduler sched({.workers = 1});
  auto t = sched.spawn([] { return weft::this_coroutine_id(); });
  const std::uint64_t id = t.id();
  ASSERT_TRUE(weft_test::spin_until([&] { return t.done(); }));
  EXPECT_TRUE(t.valid());
  EXPECT_EQ(t.join(), id);
  EXPECT_FALSE(t.done());
}

TEST(Task, DestroyedUnjoinedIsDetachedAndStillRuns) {
  std::atomic<int> ran{0};
  {
    weft::Scheduler sched({.workers = 2});
    for (int i = 0; i < 100; ++i) {
      auto t = sched.spawn([&] {
        weft::yield();
        ran.fetch_add(1);
      });
      if (i % 2) t.detach();
      // else: destroyed here without join
    }
  }
  EXPECT_EQ(ran.load(), 100);
}

TEST(Task, ArgumentsAreDecayCopied) {
  weft::Scheduler sched({.workers = 1});
  std::string s = "original";
  std::vector<int> v{1, 2, 3};
  std::atomic<bool> go{false};
  auto t = sched.spawn(
      [&go](std::string copy, const std::vector<int>& vec) {
        while (!go.load()) weft::yield();
        return copy + ":" + std::to_string(vec.size());
      },
      s, v);
  // The coroutine holds its own copies, made at spawn time.
  s = "changed";
  v.clear();
  v.shrink_to_fit();
  go.store(true);
  EXPECT_EQ(t.join(), "original:3");
  // Arrays and functions decay to pointers.
  EXPECT_EQ(sched.run([](const char* p) { return std::string(p); }, "literal"), "literal");
  EXPECT_EQ(sched.run([](int (*f)(int, int)) { return f(1, 2); }, add), 3);
  // The callable itself is copied too.
  int base = 10;
  auto fn = [base](int x) { return base + x; };
  auto u = sched.spawn(fn, 1);
  base = 1000;
  EXPECT_EQ(u.join(), 11);
}

TEST(Task, ReferenceWrapperPassesByReference) {
  weft::Scheduler sched({.workers = 2});
  int counter = 0;
  sched.spawn([](int& c) { c += 5; }, std::ref(counter)).join();
  EXPECT_EQ(counter, 5);
  const std::string name = "weft";
  EXPECT_EQ(sched.run([](const std::string& n) { return n.size(); }, std::cref(name)), 4u);
}

TEST(Task, MoveOnlyArgumentsFunctionsAndResults) {
  weft::Scheduler sched({.workers = 2});
  auto p = std::make_unique<int>(41);
  auto t = sched.spawn([](std::unique_ptr<int> q) { return std::make_unique<int>(*q + 1); },
                       std::move(p));
  static_assert(std::is_same_v<decltype(t), weft::Task<std::unique_ptr<int>>>);
  std::unique_ptr<int> r = t.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);

  // A move-only callable.
  auto owned = std::make_unique<std::string>("moved in");
  EXPECT_EQ(sched.run([o = std::move(owned)] { return *o; }), "moved in");

  // Move-only result through a coroutine-to-coroutine join.
  auto v = sched.run([] {
    auto child = weft::spawn([] {
      weft::yield();
      return std::make_unique<std::vector<int>>(1000, 7);
    });
    auto got = child.join();
    return std::accumulate(got->begin(), got->end(), 0);
  });
  EXPECT_EQ(v, 7000);
}

TEST(Task, LargeCapturesAreBoxed) {
  // Bigger than the record's inline payload: the job must be boxed on the heap.
  weft::Scheduler sched({.workers = 2});
  std::array<unsigned char, 1024> big{};
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<unsigned char>(i);
  auto t = sched.spawn([big] {
    unsigned sum = 0;
    for (auto b : big) sum += b;
    return sum;
  });
  unsigned expected = 0;
  for (auto b : big) expected += b;
  EXPECT_EQ(t.join(), expected);
  // And a large result.
  auto r = sched.run([] {
    std::array<int, 256> a{};
    for (int i = 0; i < 256; ++i) a[static_cast<std::size_t>(i)] = i;
    return a;
  });
  EXPECT_EQ(r[255], 255);
}

TEST(Task, CapturedStateDiesWithTheCoroutine) {
  weft::Scheduler sched({.workers = 1});
  auto tracker = std::make_shared<int>(0);
  std::weak_ptr<int> weak = tracker;
  auto t = sched.spawn([tracker = std::move(tracker)] { return *tracker; });
  ASSERT_TRUE(weft_test::spin_until([&] { return t.done(); }));
  // The callable (and its captures) is destroyed when the function returns, before join.
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(t.join(), 0);
}

// ---- misuse ----------------------------------------------------------------------------

TEST(TaskErrors, JoinTwiceThrowsLogicError) {
  weft::Scheduler sched({.workers = 1});
  auto t = sched.spawn([] { return 1; });
  EXPECT_EQ(t.join(), 1);
  EXPECT_THROW(t.join(), std::logic_error);
  auto v = sched.spawn([] {});
  v.join();
  EXPECT_THROW(v.join(), std::logic_error);
  // A task that threw is consumed by the first join too.
  auto e = sched.spawn([] { throw CustomError(1); });
  EXPECT_THROW(e.join(), CustomError);
  EXPECT_THROW(e.join(), std::logic_error);
}

TEST(TaskErrors, JoinAfterDetachThrowsLogicError) {
  weft::Scheduler sched({.workers = 1});
  auto t = sched.spawn([] { return 1; });
  t.detach();
  EXPECT_FALSE(t.valid());
  EXPECT_THROW(t.join(), std::logic_error);
}

TEST(TaskErrors, DetachTwiceThrowsLogicError) {
  weft::Scheduler sched({.workers = 1});
  auto t = sched.spawn([] {});
  t.detach();
  EXPECT_THROW(t.detach(), std::logic_error);
  auto j = sched.spawn([] {});
  j.join();
  EXPECT_THROW(j.detach(), std::logic_error);
}

TEST(TaskErrors, MovedFromAndDefaultConstructedThrowLogicError) {
  weft::Scheduler sched({.workers = 1});
  auto a = sched.spawn([] { return 1; });
  auto b = std::move(a);
  EXPECT_THROW(a.join(), std::logic_error);    // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(a.detach(), std::logic_error);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.join(), 1);
  weft::Task<int> empty;
  EXPECT_THROW(empty.join(), std::logic_error);
  EXPECT_THROW(empty.detach(), std::logic_error);
  weft::Task<void> empty_void;
  EXPECT_THROW(empty_void.join(), std::logic_error);
}

TEST(TaskErrors, YieldToInvalidHandleThrowsLogicError) {
  weft::Scheduler sched({.workers = 1});
  weft::Task<int> empty;
  EXPECT_THROW(weft::yield_to(empty), std::logic_error);
  auto t = sched.spawn([] { return 1; });
  t.join();
  EXPECT_THROW(weft::yield_to(t), std::logic_error);
  const bool threw_inside = sched.run([] {
    weft::Task<void> none;
    try {
      weft::yield_to(none);
    } catch (const std::logic_error&) {
      return true;
    }
    return false;
  });
  EXPECT_TRUE(threw_inside);
}

TEST(TaskErrors, MisuseInsideACoroutineThrowsThere) {
  weft::Scheduler sched({.workers = 2});
  int caught = sched.run([] {
    int n = 0;
    auto t = weft::spawn([] { return 1; });
    t.join();
    try {
      t.join();
    } catch (const std::logic_error&) {
      ++n;
    }
    auto d = weft::spawn([] {});
    d.detach();
    try {
      d.detach();
    } catch (const std::logic_error&) {
      ++n;
    }
    return n;
  });
  EXPECT_EQ(caught, 2);
}

}  // namespace

namespace {

std::atomic<int> g_unhandled_calls{0};
std::atomic<std::uint64_t> g_unhandled_id{0};

void count_unhandled(std::uint64_t id, std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::runtime_error&) {
    g_unhandled_id = id;
    g_unhandled_calls.fetch_add(1);
  } catch (...) {
  }
}

TEST(Unhandled, DetachedExceptionGoesToTheInstalledHandler) {
  const auto previous = weft::set_unhandled_exception_handler(&count_unhandled);
  EXPECT_EQ(previous, &weft::default_unhandled_exception_handler);
  std::uint64_t id = 0;
  {
    weft::Scheduler sched({.workers = 2});
    auto t = sched.spawn([] { throw std::runtime_error("nobody joins me"); });
    id = t.id();
    t.detach();
  }  // the destructor waits for it
  EXPECT_EQ(g_unhandled_calls.load(), 1);
  EXPECT_EQ(g_unhandled_id.load(), id);
  // A joined exception is not unhandled.
  {
    weft::Scheduler sched({.workers = 1});
    EXPECT_THROW(sched.run([] { throw std::runtime_error("joined"); }), std::runtime_error);
  }
  EXPECT_EQ(g_unhandled_calls.load(), 1);
  EXPECT_EQ(weft::set_unhandled_exception_handler(nullptr), &count_unhandled);
}

TEST(UnhandledDeathTest, DefaultHandlerPrintsAndTerminates) {
  weft_test::use_death_test_child_process();
  EXPECT_DEATH(
      {
        weft::Scheduler sched({.workers = 1});
        sched.spawn([] { throw std::runtime_error("lost exception"); }).detach();
      },
      // The type demangled, as a user would write it.
      "weft: coroutine [0-9]+ was detached and threw std::runtime_error: lost exception");
}

}  // namespace
