// SPDX-License-Identifier: Apache-2.0
// Fork-join with weft::TaskGroup, parallel_for and parallel_reduce: a recursive sum over a
// tree of tasks, a loop that fills an array, and a reduction over it, each checked against
// the serial answer and timed.
//
//   weft-example-fork_join [N] [WORKERS]      (defaults: 10,000,000, one worker per CPU)
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <weft/weft.hpp>

namespace {

// Sums [lo, hi) by splitting it in two until the pieces are small: every split is a
// TaskGroup child that an idle worker may steal; if nobody does, wait() runs it right
// here, with no allocation for the child.
std::int64_t tree_sum(const std::vector<std::int64_t>& v, std::size_t lo, std::size_t hi) {
  if (hi - lo <= 4096) {
    std::int64_t s = 0;
    for (std::size_t i = lo; i < hi; ++i) s += v[i];
    return s;
  }
  const std::size_t mid = lo + (hi - lo) / 2;
  std::int64_t left = 0;
  weft::TaskGroup g;
  g.spawn([&] { left = tree_sum(v, lo, mid); });
  const std::int64_t right = tree_sum(v, mid, hi);
  g.wait();  // rethrows what a child threw, once every child is done
  return left + right;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 10'000'000;
  const unsigned workers = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 0;
  if (n <= 0) {
    std::fprintf(stderr, "usage: weft-example-fork_join [N > 0] [WORKERS]\n");
    return 2;
  }
  weft::Scheduler sched(weft::Options{.workers = workers});
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));

  // parallel_for: no grain needed; ranges are split only when a worker is idle.
  auto t0 = std::chrono::steady_clock::now();
  sched.run([&] { weft::parallel_for(0L, n, [&v](long i) { v[i] = i % 1000; }); });
  const double fill_ms = ms_since(t0);

  // parallel_reduce: f folds a sub-range into an accumulator, combine joins two parts.
  t0 = std::chrono::steady_clock::now();
  const std::int64_t reduced = sched.run([&] {
    return weft::parallel_reduce(
        0L, n, std::int64_t{0},
        [&v](long lo, long hi, std::int64_t acc) {
          for (long i = lo; i < hi; ++i) acc += v[i];
          return acc;
        },
        [](std::int64_t a, std::int64_t b) { return a + b; });
  });
  const double reduce_ms = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  const std::int64_t summed = sched.run([&] { return tree_sum(v, 0, v.size()); });
  const double tree_ms = ms_since(t0);

  std::int64_t expected = 0;
  for (long i = 0; i < n; ++i) expected += i % 1000;
  const bool ok = reduced == expected && summed == expected;
  const auto used = static_cast<unsigned>(sched.stats().workers.size());
  std::printf(
      "fork_join: n = %ld on %u worker%s: parallel_for %.1f ms, parallel_reduce = %lld "
      "(%.1f ms), TaskGroup tree sum = %lld (%.1f ms): %s\n",
      n, used, used == 1 ? "" : "s", fill_ms, static_cast<long long>(reduced), reduce_ms,
      static_cast<long long>(summed), tree_ms, ok ? "both match the serial sum" : "MISMATCH");
  return ok ? 0 : 1;
}
