// SPDX-License-Identifier: Apache-2.0
// Parallel Fibonacci: fork-join with weft::spawn and Task::join, timed against the plain
// recursive function on one thread.
//
//   weft-example-fib [N] [WORKERS]      (defaults: 35, one worker per CPU)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <weft/weft.hpp>

namespace {

long serial_fib(int n) {
  return n < 2 ? n : serial_fib(n - 1) + serial_fib(n - 2);
}

// Below the cutoff a call is too small to be worth a coroutine: the spawn would cost
// more than the work it hands to another worker.
constexpr int kCutoff = 18;

long parallel_fib(int n) {
  if (n < kCutoff) return serial_fib(n);
  // The child may be stolen by an idle worker; if nobody has taken it by the time we
  // join, join() runs it right here on our stack.
  weft::Task<long> a = weft::spawn(parallel_fib, n - 1);
  long b = parallel_fib(n - 2);
  return a.join() + b;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 35;
  const unsigned workers = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 0;
  if (n < 0 || n > 50) {
    std::fprintf(stderr, "usage: weft-example-fib [N in 0..50] [WORKERS]\n");
    return 2;
  }

  auto t0 = std::chrono::steady_clock::now();
  const long expected = serial_fib(n);
  const double serial_ms = ms_since(t0);

  weft::Scheduler sched({.workers = workers});
  t0 = std::chrono::steady_clock::now();
  const long got = sched.run(parallel_fib, n);
  const double weft_ms = ms_since(t0);

  std::printf("fib(%d) = %ld  serial %.1f ms, weft %.1f ms on %u worker%s: speedup %.2fx\n", n, got,
              serial_ms, weft_ms, sched.workers(), sched.workers() == 1 ? "" : "s",
              serial_ms / weft_ms);
  return got == expected ? 0 : 1;
}
