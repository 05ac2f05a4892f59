// SPDX-License-Identifier: Apache-2.0
// weft-demo: shows the scheduler at work on two spawn-heavy workloads.
//
//   fib(N)     a spawn per call: spawn fib(n-1), compute fib(n-2) inline, join
//   skynet(N)  N leaves in a 10-ary tree: each node spawns (up to) 10 children and sums
//              their joins; leaf i returns i, so the sum is N(N-1)/2
//
// For each it prints the result (checked), the wall time, how many distinct workers ran
// leaves, and the Scheduler::stats() delta, in total and per worker.
//
//   weft-demo [--workers N] [--fib N] [--skynet N]
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <weft/weft.hpp>

#include "cli.hpp"
#include "plural.hpp"

namespace {

struct Args {
  unsigned workers = 0;  // 0: hardware concurrency
  int fib = 30;
  std::int64_t skynet = 1000000;
};

// One flag per worker, each on its own cache line; leaves set the flag of the worker
// they run on (reading first, so a set flag is not written again).
class WorkerSet {
 public:
  explicit WorkerSet(unsigned n) : n_(n), flags_(std::make_unique<Flag[]>(n)) {}
  void mark() noexcept {
    const int w = weft::current_worker();
    if (w < 0 || static_cast<unsigned>(w) >= n_) return;
    std::atomic<bool>& f = flags_[static_cast<unsigned>(w)].seen;
    if (!f.load(std::memory_order_relaxed)) f.store(true, std::memory_order_relaxed);
  }
  unsigned count() const noexcept {
    unsigned c = 0;
    for (unsigned i = 0; i < n_; ++i) c += flags_[i].seen.load(std::memory_order_relaxed) ? 1 : 0;
    return c;
  }
  void clear() noexcept {
    for (unsigned i = 0; i < n_; ++i) flags_[i].seen.store(false, std::memory_order_relaxed);
  }

 private:
  struct alignas(64) Flag {
    std::atomic<bool> seen{false};
  };
  unsigned n_;
  std::unique_ptr<Flag[]> flags_;
};

WorkerSet* g_workers = nullptr;

std::int64_t fib(int n) {
  if (n < 2) {
    g_workers->mark();
    return n;
  }
  auto t = weft::spawn(fib, n - 1);
  const std::int64_t b = fib(n - 2);
  return t.join() + b;
}

// Sum of leaves [first, first + size): split into up to 10 near-equal children.
std::int64_t skynet(std::int64_t first, std::int64_t size) {
  if (size == 1) {
    g_workers->mark();
    return first;
  }
  constexpr std::int64_t kFanout = 10;
  const std::int64_t kids = size < kFanout ? size : kFanout;
  weft::Task<std::int64_t> tasks[kFanout];
  std::int64_t begin = first;
  for (std::int64_t i = 0; i < kids; ++i) {
    const std::int64_t len = size / kids + (i < size % kids ? 1 : 0);
    tasks[i] = weft::spawn(skynet, begin, len);
    begin += len;
  }
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < kids; ++i) sum += tasks[i].join();
  return sum;
}

std::int64_t fib_expected(int n) {
  std::int64_t a = 0, b = 1;
  for (int i = 0; i < n; ++i) {
    const std::int64_t c = a + b;
    a = b;
    b = c;
  }
  return a;
}

// Runs `body` on the scheduler, prints one line, returns whether the result was right.
template <class F>
bool show(weft::Scheduler& sched, WorkerSet& seen, const char* what, std::int64_t expected,
          F body) {
  seen.clear();
  const weft::Stats s0 = sched.stats();
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t got = sched.run(body);
  const auto t1 = std::chrono::steady_clock::now();
  const weft::Stats s1 = sched.stats();
  const double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const bool ok = got == expected;
  std::printf(
      "%-16s = %-14lld %s %9.1f ms  workers %u/%u  spawned %llu  steals %llu  parks %llu  switches "
      "%llu\n",
      what, static_cast<long long>(got), ok ? "ok   " : "WRONG", ms, seen.count(), sched.workers(),
      static_cast<unsigned long long>(s1.spawned - s0.spawned),
      static_cast<unsigned long long>(s1.steals - s0.steals),
      static_cast<unsigned long long>(s1.parks - s0.parks),
      static_cast<unsigned long long>(s1.switches - s0.switches));
  // Where the work ran: each worker's share of the coroutine runs, and its steals.
  for (std::size_t i = 0; i < s1.workers.size(); ++i) {
    const weft::WorkerStats& a = s0.workers[i];
    const weft::WorkerStats& b = s1.workers[i];
    std::printf(
        "  worker %zu: runs %llu  steals %llu of %llu attempts  parks %llu  wake-ups %llu\n", i,
        static_cast<unsigned long long>(b.runs - a.runs),
        static_cast<unsigned long long>(b.steals - a.steals),
        static_cast<unsigned long long>(b.steal_attempts - a.steal_attempts),
        static_cast<unsigned long long>(b.parks - a.parks),
        static_cast<unsigned long long>(b.wakeups - a.wakeups));
  }
  std::fflush(stdout);
  if (!ok)
    std::fprintf(stderr, "weft-demo: %s: expected %lld\n", what, static_cast<long long>(expected));
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-demo: parallel fib and skynet on all workers, with the scheduler's stats",
               "weft-demo"};
  Args args;
  app.add_option("--workers", args.workers, "worker threads (default: one per CPU)")
      ->check(CLI::Range(1u, weft::kMaxWorkers));
  app.add_option("--fib", args.fib, "fib(N) with a spawn per call")
      ->capture_default_str()
      ->check(CLI::Range(0, 45));
  app.add_option("--skynet", args.skynet, "skynet over N leaves")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{100000000}));
  if (const auto rc = weft_tools::parse(app, argc, argv)) return *rc;
  try {
    weft::Scheduler sched(weft::Options{.workers = args.workers, .stack_size = 64 * 1024});
    WorkerSet seen(sched.workers());
    g_workers = &seen;
    std::printf("weft-demo: %s, %zu KiB stacks\n",
                weft_tools::plural(sched.workers(), "worker").c_str(),
                sched.options().stack_size / 1024);
    std::fflush(stdout);

    bool ok = true;
    char what[32];
    std::snprintf(what, sizeof what, "fib(%d)", args.fib);
    ok &= show(sched, seen, what, fib_expected(args.fib), [n = args.fib] { return fib(n); });

    std::snprintf(what, sizeof what, "skynet(%lld)", static_cast<long long>(args.skynet));
    const std::int64_t n = args.skynet;
    ok &= show(sched, seen, what, n * (n - 1) / 2, [n] { return skynet(0, n); });
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weft-demo: %s\n", e.what());
    return 1;
  }
}
