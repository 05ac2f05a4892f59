// SPDX-License-Identifier: Apache-2.0
// The floating-point control state (x86-64: MXCSR and the x87 control word; AArch64:
// FPCR) is callee-saved, so it belongs to each coroutine: a rounding mode or
// flush-to-zero set in one coroutine never leaks into another that runs on the same
// thread, and survives the coroutine's own switches. The checks read the register
// (through src/arch.hpp), ask fegetround(), and do arithmetic whose result depends on it.
#include <gtest/gtest.h>

#include <atomic>
#include <cfenv>
#include <cfloat>
#include <cstdint>
#include <vector>

#include "arch.hpp"
#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft::detail::FpControl;
using weft::detail::read_fp_control;
using weft::detail::rounds_as;
using weft::detail::write_fp_control;
using weft_test::Watchdog;

// 1/3 rounded up and rounded to nearest differ in the last bit.
double third(double one) {
  volatile double a = one, b = 3.0;
  return a / b;
}

// Half the smallest normal double: a subnormal, or 0 with flush-to-zero on.
double half_of_smallest_normal() {
  volatile double a = DBL_MIN, b = 0.5;
  return a * b;
}

// Flush-to-zero on or off in the live control state.
void set_flush_to_zero(bool on) {
  FpControl f = read_fp_control();
#if defined(__x86_64__)
  constexpr std::uint32_t kFtz = 1u << 15;  // MXCSR.FTZ
  f.mxcsr = on ? (f.mxcsr | kFtz) : (f.mxcsr & ~kFtz);
#else
  constexpr std::uint64_t kFz = std::uint64_t{1} << 24;  // FPCR.FZ
  f.fpcr = on ? (f.fpcr | kFz) : (f.fpcr & ~kFz);
#endif
  write_fp_control(f);
}

TEST(FpControl, RoundingModeIsPerCoroutine) {
  weft::Scheduler sched({.workers = 1});
  struct Out {
    bool a_up_after_set, a_up_after_yield, b_nearest;
    int a_round_after_yield, b_round;
    double a_third, b_third;
  };
  Out o = sched.run([] {
    Out out{};
    std::atomic<int> stage{0};
    auto a = weft::spawn([&] {
      std::fesetround(FE_UPWARD);
      out.a_up_after_set = rounds_as(read_fp_control(), FE_UPWARD);
      stage.store(1);
      while (stage.load() < 2) weft::yield();
      out.a_up_after_yield = rounds_as(read_fp_control(), FE_UPWARD);
      out.a_round_after_yield = std::fegetround();
      out.a_third = third(1.0);
    });
    auto b = weft::spawn([&] {
      while (stage.load() < 1) weft::yield();  // A has switched to FE_UPWARD and yielded
      out.b_nearest = rounds_as(read_fp_control(), FE_TONEAREST);
      out.b_round = std::fegetround();
      out.b_third = third(1.0);
      std::fesetround(FE_DOWNWARD);  // must not leak into A either
      stage.store(2);
      weft::yield();
    });
    a.join();
    b.join();
    return out;
  });
  EXPECT_TRUE(o.a_up_after_set);
  EXPECT_TRUE(o.b_nearest) << "the rounding mode leaked between coroutines";
  EXPECT_EQ(o.b_round, FE_TONEAREST);
  EXPECT_TRUE(o.a_up_after_yield) << "a coroutine lost its rounding mode across yield";
  EXPECT_EQ(o.a_round_after_yield, FE_UPWARD);
  EXPECT_GT(o.a_third, o.b_third) << "the FP unit did not actually round differently";
}

TEST(FpControl, ManyCoroutinesEachKeepTheirMode) {
  Watchdog dog("ManyCoroutinesEachKeepTheirMode");
  // Several workers, coroutines migrating: each keeps the mode it set across yields.
  weft::Scheduler sched({.workers = 2});
  const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
  std::vector<weft::Task<int>> ts;
  for (int i = 0; i < 64; ++i) {
    const int mode = modes[i % 4];
    ts.push_back(sched.spawn([mode] {
      int bad = 0;
      std::fesetround(mode);
      for (int k = 0; k < 20; ++k) {
        weft::yield();
        if (std::fegetround() != mode) ++bad;
        if (!rounds_as(read_fp_control(), mode)) ++bad;
      }
      return bad;
    }));
  }
  int bad = 0;
  for (auto& t : ts) bad += t.join();
  EXPECT_EQ(bad, 0);
}

TEST(FpControl, FlushToZeroIsPerCoroutine) {
  weft::Scheduler sched({.workers = 1});
  struct Out {
    double a_before_yield, a_after_yield, b_seen;
  };
  Out o = sched.run([] {
    Out out{};
    std::atomic<int> stage{0};
    auto a = weft::spawn([&] {
      set_flush_to_zero(true);
      out.a_before_yield = half_of_smallest_normal();
      stage.store(1);
      while (stage.load() < 2) weft::yield();
      out.a_after_yield = half_of_smallest_normal();
    });
    auto b = weft::spawn([&] {
      while (stage.load() < 1) weft::yield();
      out.b_seen = half_of_smallest_normal();
      stage.store(2);
    });
    a.join();
    b.join();
    return out;
  });
  EXPECT_EQ(o.a_before_yield, 0.0) << "flush-to-zero did not take effect";
  EXPECT_GT(o.b_seen, 0.0) << "flush-to-zero leaked between coroutines";
  EXPECT_EQ(o.a_after_yield, 0.0) << "a coroutine lost flush-to-zero across yield";
}

TEST(FpControl, FreshCoroutineStartsWithDefaultMode) {
  weft::Scheduler sched({.workers = 1});
  // A coroutine that changes the mode and ends must not hand it to the next one.
  sched.run([] {
    std::fesetround(FE_UPWARD);
    set_flush_to_zero(true);
  });
  const FpControl st = sched.run([] { return read_fp_control(); });
  EXPECT_TRUE(rounds_as(st, FE_TONEAREST));
  EXPECT_GT(sched.run([] { return half_of_smallest_normal(); }), 0.0) << "flush-to-zero leaked";
  // Nor change the mode of the plain thread that joined it.
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
  EXPECT_TRUE(rounds_as(read_fp_control(), FE_TONEAREST));
  std::fesetround(FE_TONEAREST);  // in case it leaked, keep later tests in this process sane
}

TEST(FpControl, ChildJoinedInlineDoesNotChangeParentMode) {
  weft::Scheduler sched({.workers = 1});
  const FpControl st = sched.run([] {
    auto child = weft::spawn([] { std::fesetround(FE_DOWNWARD); });
    child.join();  // not started yet: may run inline on this stack
    return read_fp_control();
  });
  EXPECT_TRUE(rounds_as(st, FE_TONEAREST)) << "a child's rounding mode leaked into its joiner";
}

// The other half of the inline join's promise: the child starts in the default state, as
// on a fresh stack, whatever its joiner set; and the joiner's own state is back after it.
TEST(FpControl, ChildJoinedInlineStartsWithDefaultModeAndParentKeepsItsOwn) {
  weft::Scheduler sched({.workers = 1});
  struct Out {
    bool child_nearest, child_ftz_off, parent_up_after;
    double parent_after;
  };
  const Out o = sched.run([] {
    Out out{};
    std::fesetround(FE_UPWARD);
    set_flush_to_zero(true);
    auto child = weft::spawn([&] {
      out.child_nearest = rounds_as(read_fp_control(), FE_TONEAREST);
      out.child_ftz_off = half_of_smallest_normal() > 0.0;
      std::fesetround(FE_DOWNWARD);
      set_flush_to_zero(false);
    });
    child.join();  // not started yet: runs inline on this stack
    out.parent_up_after = rounds_as(read_fp_control(), FE_UPWARD);
    out.parent_after = half_of_smallest_normal();
    return out;
  });
  EXPECT_TRUE(o.child_nearest) << "an inline child inherited its joiner's rounding mode";
  EXPECT_TRUE(o.child_ftz_off) << "an inline child inherited its joiner's flush-to-zero";
  EXPECT_TRUE(o.parent_up_after) << "the joiner lost its rounding mode to an inline child";
  EXPECT_EQ(o.parent_after, 0.0) << "the joiner lost flush-to-zero to an inline child";
}

}  // namespace
